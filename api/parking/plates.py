"""Chinese licence plates (机动车号牌, GA 36): normalising what a person or a camera typed, the rules a
plate must follow, masking for people who should not see it whole, and the one-character misreads a gate
camera makes.

A plate is a province character (沪, 京 …), a letter for the issuing office, then five characters for an
ordinary plate or six for a new-energy one (绿牌: D/F/A–K, or a trailing D/F for buses and lorries).
Letters are upper case; `I` and `O` never appear (they read as 1 and 0). Separators people type — spaces,
`·`, `-`, `.` — are dropped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_SEPARATORS = re.compile(r"[\s·•．.\-_]+")
_BODY = "[A-HJ-NP-Z0-9]"
_ORDINARY = re.compile(rf"^[{PROVINCES}][A-HJ-NP-Z]{_BODY}{{4}}[A-HJ-NP-Z0-9挂学警港澳]$")
# 新能源: small cars D/F then a letter or digit and four digits; large vehicles five digits then D/F.
_NEW_ENERGY = re.compile(rf"^[{PROVINCES}][A-HJ-NP-Z](?:[DFA-HJK][A-HJ-NP-Z0-9]\d{{4}}|\d{{5}}[DF])$")


@dataclass(frozen=True)
class Plate:
    text: str
    new_energy: bool


class PlateError(ValueError):
    """The rule a plate breaks, in words a driver can act on."""


def normalise(raw: str) -> str:
    """Upper case, full-width folded, separators removed: " 沪a·12345 " → "沪A12345"."""
    folded = unicodedata.normalize("NFKC", raw)
    return _SEPARATORS.sub("", folded).upper()


def parse(raw: str) -> Plate:
    """A valid plate, or `PlateError` saying which rule it breaks."""
    text = normalise(raw)
    if not text:
        raise PlateError("车牌号不能为空")
    if text[0] not in PROVINCES:
        raise PlateError("车牌须以省份简称开头（如 沪、京、苏）")
    if len(text) not in (7, 8):
        raise PlateError("车牌为 7 位（新能源车 8 位）")
    if "I" in text or "O" in text:
        raise PlateError("车牌中不含字母 I 和 O（请改为数字 1 和 0）")
    if len(text) == 8:
        if not _NEW_ENERGY.match(text):
            raise PlateError("新能源车牌格式为 省份+字母+D/F+5 位（或 5 位数字+D/F）")
        return Plate(text, True)
    if not _ORDINARY.match(text):
        raise PlateError("车牌格式为 省份+字母+5 位字母或数字")
    return Plate(text, False)


def mask(plate: str | None) -> str:
    """A plate for a lender or another resident: "沪A***45"."""
    if not plate:
        return ""
    return plate[:2] + "*" * (len(plate) - 4) + plate[-2:]


def one_apart(a: str, b: str) -> bool:
    """Two plates of the same length that differ in exactly one character (a camera's misread)."""
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1
