"""Certificates (志愿服务证明): a PDF of a volunteer's hours per recording group and period (谁记录谁证明: each group
certifies what it recorded), with a code anyone may check at `/api/v1/volunteer-certificates/{code}` — which shows
the name masked.

Set in Noto Sans SC, the TTF that ships inside the `justmytype-intl-cjk` package (no system font needed). The font
file is a variable font whose default instance is its thinnest; instancing it to Regular costs ~20 s, so the text is
drawn filled and stroked instead, which reads as a regular weight at a fraction of the cost.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from importlib.resources import files
from pathlib import Path

from sqlalchemy import select

from api.accounts.models import User
from api.db import CODE_ALPHABET, db, utcnow
from api.errors import ApiError, NotFound
from api.fields import LOCAL_TZ
from api.volunteers import ledger, services
from api.volunteers.models import Certificate

FONT_FAMILY = "NotoSansSC"
ISSUER = "控江路街道"


def font_path() -> Path:
    return Path(str(files("justmytype_intl_cjk") / "fonts" / "ofl" / "notosanssc" / "NotoSansSC[wght].ttf"))


def _code() -> str:
    """12 characters a person can read out (no 0/O, 1/I/L), grouped in fours: `7KQM-3XPA-9RTW`."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧**娜: enough for the holder to be recognised by who already knows them."""
    name = name.strip()
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def _local_date(moment: datetime | None) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%Y年%m月%d日") if moment else ""


def issue(user: User, since: datetime | None, until: datetime | None) -> Certificate:
    """Record what the certificate says (the hours per group in the period) under a fresh verification code."""
    profile = services.require_profile(user)
    account = ledger.account_of(user, create=False)
    lines = ledger.hours_by_group(account.id, since, until) if account else []
    total = sum(line["minutes"] for line in lines)
    if total <= 0:
        raise ApiError("certificate_empty")
    certificate = Certificate(
        code=_code(),
        user_id=user.id,
        holder_name=profile.real_name,
        period_from=since,
        period_to=until,
        total_minutes=total,
        lines=lines,
        issued_at=utcnow(),
    )
    db.session.add(certificate)
    db.session.flush()
    return certificate


def verify(code: str) -> Certificate:
    certificate = db.session.scalar(select(Certificate).where(Certificate.code == code.strip().upper()))
    if certificate is None:
        raise NotFound()
    return certificate


def _hours(minutes: int) -> str:
    return f"{minutes / 60:g}"


def render(certificate: Certificate, verify_url: str) -> bytes:
    """The certificate as a one-page A4 PDF."""
    from fpdf import FPDF
    from fpdf.enums import TextMode

    pdf = FPDF(format="A4")
    pdf.set_title("志愿服务证明")
    pdf.set_author(ISSUER)
    # Plain text in the document's metadata: what a machine (or a test) can read without a CJK text extractor.
    pdf.set_subject(f"verification:{certificate.code}")
    pdf.set_creation_date(certificate.issued_at)
    pdf.add_page()
    pdf.add_font(FONT_FAMILY, "", str(font_path()))
    pdf.text_mode = TextMode.FILL_STROKE

    def write(size: float, text: str, weight: float = 0.25, height: float = 10, align: str = "L") -> None:
        pdf.set_font(FONT_FAMILY, "", size)
        pdf.set_line_width(weight)
        pdf.multi_cell(0, height, text, align=align, new_x="LMARGIN", new_y="NEXT")

    write(26, "志愿服务证明", weight=0.6, height=18, align="C")
    pdf.ln(6)
    period = ""
    if certificate.period_from or certificate.period_to:
        since = _local_date(certificate.period_from) or "登记之日"
        period = f"在{since}至{_local_date(certificate.period_to) or '今'}期间，"
    write(
        13,
        f"兹证明 {certificate.holder_name} 同志{period}参加志愿服务，经各记录单位确认，"
        f"累计志愿服务时长 {_hours(certificate.total_minutes)} 小时。",
        height=9,
    )
    pdf.ln(4)
    write(12, "各志愿服务队记录的时长（谁记录谁证明）：", weight=0.35, height=9)
    for line in certificate.lines:
        write(12, f"    {line['group']}（{line['recorded_by']}）  {_hours(line['minutes'])} 小时", height=8)
    stars = ledger.stars(certificate.total_minutes)
    if stars:
        pdf.ln(2)
        write(12, f"星级志愿者：{'★' * stars}（{stars} 星）", height=8)
    pdf.ln(10)
    write(12, f"出具单位：{ISSUER}（各志愿服务队记录，街道汇总）", height=8)
    write(12, f"出具日期：{_local_date(certificate.issued_at)}", height=8)
    write(12, f"验证码：{certificate.code}", weight=0.35, height=8)
    write(10, f"核验：{verify_url}", weight=0.15, height=7)
    return bytes(pdf.output())


def period_bounds(since: date | None, until: date | None) -> tuple[datetime | None, datetime | None]:
    """Shanghai calendar days → UTC instants; `until` is inclusive (the whole last day)."""
    from datetime import time, timedelta

    start = datetime.combine(since, time(), LOCAL_TZ) if since else None
    end = datetime.combine(until + timedelta(days=1), time(), LOCAL_TZ) if until else None
    return start, end
