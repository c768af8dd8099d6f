"""Phone and ID numbers are masked however a resident writes them, and nothing else in their words changes.

A resident types a number the way they would say it on the phone — in groups, with dashes or dots, with
+86 in front, in full-width digits from a Chinese keyboard, broken over two lines — and whoever else reads
the text (the public Open311 feed, a neighbour following a merged report, a log file) sees `139****5678`.
Dates, times, amounts, room numbers and order numbers beside it stay as they were. Hypothesis writes the
numbers in all those ways; the examples pin down each form the issue names.
"""

from __future__ import annotations

import logging

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from api.masking import (
    PersonalNumbersFilter,
    install_log_masking,
    mask_id_number,
    mask_personal_numbers,
    mask_phone,
)

PROPERTIES = settings(derandomize=True, database=None, max_examples=300, deadline=None)
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
TO_ASCII = str.maketrans("０１２３４５６７８９", "0123456789")


def digits_seen(text: str) -> str:
    """What a reader can make of the digits in `text`: full-width read as digits, hidden ones as `*`."""
    return "".join(c for c in text.translate(TO_ASCII) if c in "0123456789*")


# ----------------------------------------------------------------------------------------------------
# Stored numbers in responses
# ----------------------------------------------------------------------------------------------------


def test_a_stored_phone_number_shows_its_first_three_and_last_four_digits():
    assert mask_phone("13912345678") == "139****5678"
    assert mask_phone("+8613912345678") == "+86*******5678"
    assert mask_phone("65432100") == "****2100"  # a landline: too short to show both ends
    assert mask_phone("12345") == "*****"
    assert mask_phone("") is None
    assert mask_phone(None) is None


def test_a_stored_id_number_shows_its_first_three_and_last_four_characters():
    assert mask_id_number("310101195001011234") == "310***********1234"
    assert mask_id_number("31010119500101123X") == "310***********123X"
    assert mask_id_number("310101500101123") == "310********1123"
    assert mask_id_number(None) is None


# ----------------------------------------------------------------------------------------------------
# Free text: every way of writing a number the issue names
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("联系我13912345678谢谢", "联系我139****5678谢谢"),
        ("联系我 139 1234 5678", "联系我 139 **** 5678"),
        ("电话：139-1234-5678。", "电话：139-****-5678。"),
        ("139.1234.5678", "139.****.5678"),
        ("139 - 1234 - 5678", "139 - **** - 5678"),
        ("139—1234—5678", "139—****—5678"),
        ("+86 139 1234 5678", "+86 139 **** 5678"),
        ("+8613912345678", "+86139****5678"),
        ("86 13912345678", "86 139****5678"),
        ("0086 139 1234 5678", "0086 139 **** 5678"),
        ("008613912345678", "0086139****5678"),
        ("(+86)13912345678", "(+86)139****5678"),
        ("（+86）139 1234 5678", "（+86）139 **** 5678"),
        ("＋86 139 1234 5678", "＋86 139 **** 5678"),
        ("０１３９ １２３４ ５６７８", "０１３９ **** ５６７８"),
        ("１３９１２３４５６７８", "１３９****５６７８"),
        ("１３９－１２３４－５６７８", "１３９－****－５６７８"),
        ("139 1234\n5678", "139 ****\n5678"),
        ("1391234\r\n5678", "139****\r\n5678"),
        ("139\u00a01234\u00a05678", "139\u00a0****\u00a05678"),  # non-breaking spaces
        ("139\u30001234\u30005678", "139\u3000****\u30005678"),  # ideographic spaces
        ("139\u200b1234\u200b5678", "139\u200b****\u200b5678"),  # zero-width spaces hide nothing
        ("13912345678 13812345678", "139****5678 138****5678"),
        ("*13912345678*", "*139****5678*"),
    ],
)
def test_a_mobile_number_is_masked_however_it_is_written(written, shown):
    assert mask_personal_numbers(written) == shown


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("身份证310101195001011234", "身份证310***********1234"),
        ("身份证号 31010119500101123X", "身份证号 310***********123X"),
        ("310101 19500101 1234", "310*** ******** 1234"),
        ("310101-1950-0101-123x", "310***-****-****-123x"),
        ("３１０１０１１９５００１０１１２３４", "３１０***********１２３４"),
        ("老身份证 310101500101123", "老身份证 310********1123"),
    ],
)
def test_an_id_number_is_masked_however_it_is_written(written, shown):
    assert mask_personal_numbers(written) == shown


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("居委会电话 021-6543 2100", "居委会电话 021-**** 2100"),
        ("(021)65432100", "(021)****2100"),
        ("（021）6543-2100", "（021）****-2100"),
        ("02165432100", "021****2100"),
        ("+86 21 6543 2100", "+86 21 **** 2100"),
        ("座机6543-2100", "座机****-2100"),
    ],
)
def test_a_shanghai_landline_is_masked(written, shown):
    assert mask_personal_numbers(written) == shown


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-02 09:30 在10号楼1203室门口发现",
        "2026.12.02 13:45-15:30",
        "共计 ¥1,280.50 元，押金 300元",
        "3 5 7 号楼的住户",
        "订单号 65432100",
        "预算 3000-5000元",
        "2025-2026年度",
        "控江路1000-1200号",
        "拨打 12345 市民热线或 10086",
        "坐标 31.2801,121.5302",
        "来自 172.16.254.123 的请求",
        "20261202134512",
        "12345678901",
        "房号 1203，面积 89.5 平方米，3 室 2 厅",
        "已打码：139****5678",
    ],
)
def test_ordinary_numbers_are_left_as_they_are(text):
    assert mask_personal_numbers(text) == text


@pytest.mark.parametrize(
    "text", ["", "\ud800", "139\ud8001234\udfff5678", "\x00\x07\x1b[31m", "\u202e13912345678", "🙂" * 3]
)
def test_odd_text_never_raises(text):
    masked = mask_personal_numbers(text)
    assert len(masked) == len(text)
    assert mask_personal_numbers(masked) == masked


def test_the_middle_digits_of_a_number_written_with_odd_characters_between_them_are_hidden():
    assert mask_personal_numbers("139\ud8001234\udfff5678") == "139\ud800****\udfff5678"
    assert mask_personal_numbers("\u202e13912345678") == "\u202e139****5678"


# ----------------------------------------------------------------------------------------------------
# Properties: numbers written the ways people write them
# ----------------------------------------------------------------------------------------------------

MOBILES = st.builds(
    lambda second, rest: f"1{second}{rest}",
    st.sampled_from("3456789"),
    st.text("0123456789", min_size=9, max_size=9),
)
SEPARATORS = st.sampled_from(
    [" ", "  ", "-", " - ", ".", "\u00a0", "\u3000", "\u200b", "\t", "\n", "\r\n", "\n ", "－", "—", "–", "·"]
)
PREFIXES = st.sampled_from(
    ["", "+86", "+86 ", "+86-", "86", "86 ", "0086", "0086 ", "(+86)", "(+86) ", "（+86）", "＋86 ", "＋８６", "(86)"]
)
# Words around a number: anything but a digit (a digit right beside it would make it part of a longer number),
# and no `*` (so that every `*` a reader sees is a hidden digit).
AROUND = st.text(st.characters(exclude_categories=["Nd", "Cs"], exclude_characters="*"), max_size=12) | st.sampled_from(
    ["", "联系电话：", "请打", "我的手机是", "（", "，谢谢", "。\n", "张阿姨 ", "tel:"]
)


@st.composite
def written_mobiles(draw: st.DrawFn) -> tuple[str, str, str, str]:
    """(the text, the number, the prefix digits, the text as it must read): the number written with a
    prefix or not, separators between any of its digits, any digit full-width, words around it."""
    number = draw(MOBILES)
    prefix = draw(PREFIXES)
    before, after = draw(AROUND), draw(AROUND)
    pieces, expected = [before, prefix], [before, prefix]
    for position, digit in enumerate(number):
        if position and draw(st.booleans()):
            separator = draw(SEPARATORS)
            pieces.append(separator)
            expected.append(separator)
        shown = digit.translate(FULL_WIDTH) if draw(st.booleans()) else digit
        pieces.append(shown)
        expected.append("*" if 3 <= position < 7 else shown)
    pieces.append(after)
    expected.append(after)
    text = "".join(pieces)
    # A number grouped as a valid dotted IPv4 address (139.123.145.78) is read as one, on purpose.
    assume(not _looks_like_an_address(text))
    return text, number, digits_seen(prefix), "".join(expected)


def _looks_like_an_address(text: str) -> bool:
    import re

    dotted = text.translate(TO_ASCII).replace("．", ".")
    return re.search(r"(?<![0-9.])\d{1,3}(\.\d{1,3}){3}(?![0-9.])", dotted) is not None


@PROPERTIES
@given(written_mobiles())
def test_a_mobile_number_written_any_way_keeps_only_its_first_three_and_last_four_digits(case):
    text, number, prefix_digits, expected = case
    masked = mask_personal_numbers(text)
    # The reader sees the prefix, 3 digits, 4 hidden, 4 digits — the whole number is nowhere.
    assert digits_seen(masked) == f"{prefix_digits}{number[:3]}****{number[7:]}"
    assert number not in digits_seen(masked)
    # Everything around the hidden digits is as the resident wrote it.
    assert masked == expected


@PROPERTIES
@given(st.lists(written_mobiles(), min_size=2, max_size=4), st.sampled_from(["，", "\n", "；或 ", " / "]))
def test_every_number_in_a_text_is_masked(cases, joiner):
    text = joiner.join(case[0] for case in cases)
    masked = mask_personal_numbers(text)
    seen = digits_seen(masked)
    offset = 0
    for written, number, _prefix, expected in cases:
        assert number not in seen
        # Each number's middle digits are hidden where that number was written (digits of two numbers that
        # could also be read as one more number may be hidden as well).
        hidden = [offset + i for i, c in enumerate(expected) if c == "*"]
        assert [masked[i] for i in hidden] == ["*"] * 4
        offset += len(written) + len(joiner)


@PROPERTIES
@given(written_mobiles())
def test_masking_twice_is_masking_once(case):
    once = mask_personal_numbers(case[0])
    assert mask_personal_numbers(once) == once


@PROPERTIES
@given(st.text(st.characters(exclude_categories=["Nd"]), max_size=200))
def test_text_without_digits_is_unchanged(text):
    assert mask_personal_numbers(text) == text


# Digits, separators, prefixes, masks and a few words: text where numbers overlap and touch.
NUMBERISH = st.text(
    st.sampled_from(list("0123456789０１３９ -.\n*+86()（）Xx号楼元电话\u00a0\u3000\u200b\ud800")), max_size=80
)


@PROPERTIES
@given(st.one_of(st.text(max_size=200), NUMBERISH))
def test_any_text_keeps_its_length_changes_only_digits_to_stars_and_is_stable(text):
    masked = mask_personal_numbers(text)
    assert len(masked) == len(text)
    assert all(m == t or (m == "*" and t.translate(TO_ASCII).isdigit()) for m, t in zip(masked, text, strict=True))
    assert mask_personal_numbers(masked) == masked


def test_a_thousand_descriptions_are_masked_quickly():
    import time

    texts = [f"楼道堆满杂物，10号楼{i}室，联系 139 {i:04d} 5678 或 021-6543 2100，2026-12-02 发现" for i in range(1000)]
    started = time.perf_counter()
    masked = [mask_personal_numbers(t) for t in texts]
    assert time.perf_counter() - started < 2  # a few tens of milliseconds in practice
    assert masked[42] == "楼道堆满杂物，10号楼42室，联系 139 **** 5678 或 021-**** 2100，2026-12-02 发现"


# ----------------------------------------------------------------------------------------------------
# Logs
# ----------------------------------------------------------------------------------------------------


def test_a_log_line_with_a_phone_number_is_masked(app, caplog):
    caplog.set_level(logging.INFO, logger="api")
    logging.getLogger("api.open311.routes").info("居民来电 %s，身份证 %s", "139 1234 5678", "310101195001011234")
    (record,) = [r for r in caplog.records if "居民来电" in r.getMessage()]
    assert record.getMessage() == "居民来电 139 **** 5678，身份证 310***********1234"
    assert "13912345678" not in digits_seen(caplog.text)
    assert "310101195001011234" not in caplog.text


def test_a_traceback_in_the_log_is_masked_too(app, caplog):
    caplog.set_level(logging.ERROR, logger="api")
    try:
        raise ValueError("duplicate key (phone)=(13912345678)")
    except ValueError:
        logging.getLogger("api").exception("could not save %s", "+86 139-1234-5678")
    assert "+86 139-****-5678" in caplog.text
    assert "(phone)=(139****5678)" in caplog.text
    assert "13912345678" not in caplog.text


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_the_filter_covers_existing_loggers_and_the_handlers_of_ones_created_later():
    name = "linli_masking_test"
    kept = _Kept()
    parent = logging.getLogger(name)
    parent.addHandler(kept)
    parent.propagate = False
    parent.setLevel(logging.INFO)
    existing = logging.getLogger(f"{name}.existing")
    try:
        install_log_masking([name])
        install_log_masking([name])  # a second app in the same process adds nothing twice
        assert sum(isinstance(f, PersonalNumbersFilter) for f in existing.filters) == 1
        assert sum(isinstance(f, PersonalNumbersFilter) for f in kept.filters) == 1
        existing.info("手机 %s", "13912345678")
        logging.getLogger(f"{name}.created_later").warning("手机 %(phone)s", {"phone": "１３９１２３４５６７８"})
        parent.info("no number here %d", 42)
        assert kept.lines == ["手机 139****5678", "手机 １３９****５６７８", "no number here 42"]
    finally:
        parent.removeHandler(kept)
        parent.propagate = True
