"""Masking of phone and ID numbers: the one place that decides what of a number a reader may see.

It owns three things, used by every domain (and it imports nothing but the standard library, so any layer
may use it):

- `mask_phone` / `mask_id_number`: a *stored* number as a response shows it — the first 3 and last 4
  characters, the rest `*` (`139****5678`, `310***********1234`).
- `mask_personal_numbers`: *free text a person wrote* (an incident description, a note) as someone else
  reads it. People write numbers every which way — `139 1234 5678`, `139-1234-5678`, `+86 139…`,
  `(+86)139…`, `0086…`, `139.1234.5678`, full-width `１３９…`, split across a line break — and every one of
  them is found. Only the digits that identify the person become `*`; the separators and the text around
  them stay as written. A mainland mobile keeps its first 3 and last 4 digits (so staff can still tell two
  numbers apart), a resident ID number its first 3 and last 4, a Shanghai landline its area code and last 4.
- `PersonalNumbersFilter`: the same masking for log records, so no log line carries a number in clear;
  `install_log_masking` puts it on loggers and handlers (the app does that in `create_app`).

How free text is read: the text is first *folded* character for character (same length, so a position in
the folded text is the same position in the original): full-width digits become ASCII digits, every kind
of space, line break, middle dot and invisible character becomes a space, every dash a `-`, a full stop a
`.`. The patterns below are written against that folded text, with up to three separator characters
allowed between any two digits; the masking itself is applied to the original text.

A number is recognised only where it is not part of a longer one: the character before it and the one
after it are not digits. Where digits could be read as two overlapping numbers (two numbers on two lines,
the first running on into the second: `139 1234 5678\n138 1234 5678` read as `5678 1381 234…`), every
reading is masked — the matches are looked for at every position, not one after another — so no number
keeps its middle digits whichever way it was meant. Hiding digits can turn the neighbour of a number into a
`*` and so uncover one more (`13912341391 2345678`); the text is masked again until nothing changes, which
makes masking idempotent. Only digit soup built for it needs more than two passes; after a few, every digit
left is hidden.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterable

__all__ = [
    "PersonalNumbersFilter",
    "install_log_masking",
    "mask_id_number",
    "mask_personal_numbers",
    "mask_phone",
]

MASK = "*"
# Passes of masking before every digit left is hidden (one finds the numbers, one more confirms in almost all text).
MAX_PASSES = 4

# ----------------------------------------------------------------------------------------------------
# Stored numbers
# ----------------------------------------------------------------------------------------------------


def _keep_ends(value: str, head: int = 3, tail: int = 4) -> str:
    """`value` with all but its first `head` and last `tail` characters hidden.

    A value too short to show both ends and still hide at least four characters shows only its tail (an
    8-digit landline: `****2100`), or nothing at all.
    """
    hidden = len(value) - head - tail
    if hidden >= 4:
        return value[:head] + MASK * hidden + value[-tail:]
    if len(value) - tail >= 4:
        return MASK * (len(value) - tail) + value[-tail:]
    return MASK * len(value)


def mask_phone(phone: str | None) -> str | None:
    """A stored phone number as a response shows it: `13912345678` → `139****5678`; None when there is none."""
    if not phone:
        return None
    return _keep_ends(phone)


def mask_id_number(value: str | None) -> str | None:
    """A stored resident ID number as a response shows it: 18 characters → `310***********1234` (15 → 8 `*`)."""
    if not value:
        return None
    return _keep_ends(value)


# ----------------------------------------------------------------------------------------------------
# Folding: one character for one character, so that positions stay the same
# ----------------------------------------------------------------------------------------------------

# Python's whitespace (str.isspace) — line breaks included, so a number split across lines is still one.
_SPACES = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)
# Characters nobody sees: other control characters, soft hyphen, zero-width and bidi marks, variation
# selectors, the BOM, lone surrogates. Between two digits they would hide a number from a plain pattern
# while a reader (or the XML output, which drops some of them) still sees the digits side by side.
_INVISIBLE = (
    "".join(map(chr, range(0x00, 0x09)))
    + "".join(map(chr, range(0x0E, 0x1C)))
    + "".join(map(chr, range(0x7F, 0x85)))
    + "".join(map(chr, range(0x86, 0xA0)))
    + "\u00ad\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    + "".join(map(chr, range(0x2060, 0x2070)))
    + "".join(map(chr, range(0xFE00, 0xFE10)))
    + "\ufeff\ufffe\uffff"
    + "".join(map(chr, range(0xD800, 0xE000)))
)
# Hyphen-minus, hyphen, non-breaking hyphen, figure/en/em dash, horizontal bar, minus, small and full-width.
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
# Full stop and full-width full stop (an IPv4 address is written with these, below).
_DOTS = ".\uff0e"
# Middle dots (Latin, katakana, half-width katakana) and the bullet: separators like a space.
_MIDDLE_DOTS = "\u00b7\u30fb\uff65\u2022"

_FOLD: dict[int, str] = {ord(c): " " for c in _SPACES + _INVISIBLE + _MIDDLE_DOTS}
_FOLD.update({ord(c): "-" for c in _DASHES})
_FOLD.update({ord(c): "." for c in _DOTS})
_FOLD.update({0xFF10 + d: str(d) for d in range(10)})  # ０-９
_FOLD.update({ord("＋"): "+", ord("﹢"): "+", ord("（"): "(", ord("）"): ")", ord("Ｘ"): "X", ord("ｘ"): "x"})


def _fold(text: str) -> str:
    return text.translate(_FOLD)


# ----------------------------------------------------------------------------------------------------
# Patterns (on folded text)
# ----------------------------------------------------------------------------------------------------

S = r"[ .\-]{0,3}"  # between two digits: nothing, or up to three separators ("139 - 1234", "1234\r\n5678")
D = r"\d"


def _digits(n: int) -> str:
    """`n` more digits, each after an optional separator."""
    return f"(?:{S}{D}){{{n}}}"


# Not inside a longer number: no digit right before or right after it.
_START = r"(?<![0-9])"
_END = r"(?![0-9])"

# A country code in front of a number: +86, ＋86, 0086, 86, (+86), （+86）, "+ 86".
_COUNTRY = r"(?:\([ ]?(?:\+[ ]?|00)?86[ ]?\)|(?:\+[ ]?|00)?86)" + S

# Mainland mobile: 1, then 3–9, then nine digits (11 in all), maybe after a country code or the trunk "0"
# some still dial from a landline (0139…). Kept: the prefix and the first 3 digits; hidden: the next 4 (the
# named group); kept: the last 4. Each pattern below names the part it hides the same way.
_MOBILE = rf"""
    (?:{_COUNTRY}|0{S})? 1{S}[3-9]{S}{D}
    (?P<mobile>{_digits(4)})
    (?={_digits(4)}{_END})
"""

# Resident ID number, 18 characters: region (6 digits, not starting with 0), birth date YYYYMMDD (1800–2099),
# sequence (3 digits), check character (digit or X). The whole shape is checked first (a lookahead), so a
# long order number is not taken for one; then the first 3 are kept and the next 11 hidden.
_YEAR4 = rf"(?:1{S}[89]|2{S}0){S}{D}{S}{D}"
_YEAR2 = rf"{D}{S}{D}"
_MONTH = rf"(?:0{S}[1-9]|1{S}[0-2])"
_DAY = rf"(?:0{S}[1-9]|[12]{S}{D}|3{S}[01])"
_REGION = rf"[1-9]{_digits(5)}"
_ID18 = rf"""
    (?={_REGION}{S}{_YEAR4}{S}{_MONTH}{S}{_DAY}{_digits(3)}{S}[0-9Xx](?![0-9Xx]))
    {D}{_digits(2)}
    (?P<id18>{_digits(11)})
"""
# The old 15-digit form (until 1999): region, birth date YYMMDD, sequence. Kept: first 3 and last 4.
_ID15 = rf"""
    (?={_REGION}{S}{_YEAR2}{S}{_MONTH}{S}{_DAY}{_digits(3)}{_END})
    {D}{_digits(2)}
    (?P<id15>{_digits(8)})
"""

# Shanghai landline with its area code: 021-6543 2100, (021)65432100, （021）6543-2100, +86 21 6543 2100.
# Subscriber numbers are 8 digits and do not start with 0 or 1. Kept: the area code and the last 4 digits.
_AREA = rf"(?:{_COUNTRY}(?:\([ ]?0?21[ ]?\)|0?21)|\([ ]?021[ ]?\)|021)"
_LANDLINE = rf"""
    {_AREA}{S}
    (?P<landline>[2-9]{_digits(3)})
    (?={_digits(4)}{_END})
"""

# A landline written without its area code, as 4-4 with a dash (6543-2100), standing alone (no digits just
# before or after it, even across a separator). Eight digits alone (an order number) are left; so are a year
# range (2025-2026: a first digit of 3–9 only), a price, an amount or a street number range (followed by a
# unit: 3000-5000元, 1000-1200号).
_UNITS = "元块角円万千百米平方吨斤克人位名户个件次号弄室栋幢楼层年月日天岁%％"
_LOCAL = rf"""
    (?<![¥￥$])(?<![0-9][ .\-])
    (?P<local>[3-9]\d{{3}})
    (?=[ ]?-[ ]?\d{{4}}(?![ .\-]{{0,3}}[0-9])(?![ ]?[{_UNITS}]))
"""

# A dotted IPv4 address (172.16.254.123, in a log line) can have as many digits as a mobile: it is left as it
# is. Only valid ones: a mobile written 139.1234.5678 or 13.912.345.678 is not an address.
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"(?!{_OCTET}(?:\.{_OCTET}){{3}}(?![0-9.]))"

# Every number starts with a digit, "(" or "+": checking that first keeps the scan of ordinary text fast.
# The whole pattern is a lookahead, so it matches (with zero width) at every position where a number starts,
# overlapping ones included.
_NUMBER = re.compile(
    rf"(?=[0-9(+]){_START}{_IPV4}(?=(?:{_ID18}|{_ID15}|{_MOBILE}|{_LANDLINE}|{_LOCAL}))",
    re.ASCII | re.VERBOSE,
)
_HIDDEN_GROUPS = ("mobile", "id18", "id15", "landline", "local")


def _mask_once(text: str) -> str:
    folded = _fold(text)
    hidden = []
    for match in _NUMBER.finditer(folded):
        group = next(name for name in _HIDDEN_GROUPS if match.start(name) != -1)
        hidden.append(match.span(group))
    if not hidden:
        return text
    chars = list(text)
    for start, end in hidden:
        for position in range(start, end):
            if "0" <= folded[position] <= "9":  # the digits become `*`, the separators between them stay
                chars[position] = MASK
    return "".join(chars)


def mask_personal_numbers(text: str) -> str:
    """`text` with every mobile, ID and Shanghai landline number in it masked, however it is written.

    Text without such numbers comes back unchanged; the result has the same length as `text` (each hidden
    digit becomes one `*`); masking a masked text changes nothing. Never raises on a str.
    """
    if not text or not isinstance(text, str):
        return text
    for _ in range(MAX_PASSES):
        masked = _mask_once(text)
        if masked == text:
            return text
        text = masked
    # Numbers chained into each other on purpose (each masking uncovers the next): hide every digit left.
    return "".join(MASK if "0" <= f <= "9" else c for c, f in zip(text, _fold(text), strict=True))


# ----------------------------------------------------------------------------------------------------
# Logs
# ----------------------------------------------------------------------------------------------------

_TRACEBACKS = logging.Formatter()


class PersonalNumbersFilter(logging.Filter):
    """Masks phone and ID numbers in a log record: its message (with its arguments merged in), its traceback.

    It changes the record in place (a masked message replaces `msg`, `args` become empty), so every handler
    after it — and any other logger the record propagates to — sees the masked text. It never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        # Logging must go on whatever a record holds; the handler reports what it cannot format.
        with contextlib.suppress(Exception):
            self._mask(record)
        return True

    @staticmethod
    def _mask(record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: keep both, masked, rather than a logging error
            message = f"{record.msg} {record.args!r}"
            record.msg, record.args = mask_personal_numbers(message), ()
        else:
            masked = mask_personal_numbers(message)
            if masked != message:
                record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            # Formatters reuse `exc_text` once it is set; an exception's text (a failed INSERT's parameters)
            # can hold a number as well.
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_personal_numbers(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_personal_numbers(record.stack_info)


LOG_FILTER = PersonalNumbersFilter()


def _add_filter(target: logging.Filterer) -> None:
    if not any(isinstance(f, PersonalNumbersFilter) for f in target.filters):
        target.addFilter(LOG_FILTER)


def install_log_masking(logger_names: Iterable[str] = ()) -> PersonalNumbersFilter:
    """Put the filter on the named loggers, on every logger already created below them, and on their handlers,
    the root logger's handlers and the last-resort handler. Calling it again adds nothing twice.

    A logger's filters see only the records logged on that very logger (not those propagated from its
    children), hence every existing child; a child created later is still covered by the handlers' filters.
    """
    names = tuple(logger_names)
    loggers = [logging.getLogger(name) for name in names]
    for name, existing in list(logging.Logger.manager.loggerDict.items()):
        if isinstance(existing, logging.Logger) and name.startswith(tuple(f"{n}." for n in names)):
            loggers.append(existing)
    root = logging.getLogger()
    targets: list[logging.Filterer] = [*root.handlers]
    if logging.lastResort is not None:
        targets.append(logging.lastResort)
    for logger in loggers:
        targets.append(logger)
        targets.extend(logger.handlers)
    for target in targets:
        _add_filter(target)
    return LOG_FILTER
