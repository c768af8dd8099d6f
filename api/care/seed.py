"""Elderly services' part of the demo: a catalogue sized for the subdistrict (canteen meals and delivery, bathing,
cleaning, hospital escort, home rehab, companionship, errands, home adaptation) across the three funding tiers;
two providers — a home-care organisation and the community canteen — with two workers each (sandbox logins
`carew1#…` … `carew4#…`); the street's subsidy rules (age bands, 低保, 独居, 长护险 with a weekly quota); care
profiles and service codes for the demo elders. Skipped when already there."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select

from api.accounts.models import Role, User
from api.care import pricing
from api.care.models import (
    CareProvider,
    CareService,
    CareWorker,
    Category,
    DeliveredBy,
    FundingTier,
    SubsidyRule,
    Unit,
)
from api.db import db, new_id
from api.eldercare.seed import demo_elders
from api.wechat import SandboxMiniProgram

HOME_CARE = "控江颐家居家养老服务社"
CANTEEN = "控江路街道长者食堂"
# code, name, category, unit, list price (fen), minutes, delivered by, tier, cut-off (days before, HH:MM), lead
# minutes, self-pay allowed, coin redeemable, photos, hourly cap (minutes)
DEMO_SERVICES: list[tuple[Any, ...]] = [
    (
        "meal-lunch",
        "长者食堂午餐",
        Category.MEAL_CANTEEN,
        Unit.PER_MEAL,
        1500,
        45,
        DeliveredBy.CANTEEN,
        FundingTier.SHICHANG,
        (1, "16:00"),
        0,
        True,
        False,
        False,
        None,
    ),
    (
        "meal-delivery",
        "送餐上门",
        Category.MEAL_DELIVERY,
        Unit.PER_MEAL,
        1800,
        30,
        DeliveredBy.CANTEEN,
        FundingTier.SHICHANG,
        (1, "16:00"),
        0,
        True,
        False,
        False,
        None,
    ),
    (
        "bath-home",
        "上门助浴",
        Category.BATHING,
        Unit.PER_VISIT,
        12000,
        90,
        DeliveredBy.PROVIDER,
        FundingTier.SHICHANG,
        (1, "18:00"),
        0,
        True,
        False,
        True,
        None,
    ),
    (
        "bath-ltc",
        "长护险助浴（失能老人）",
        Category.BATHING,
        Unit.PER_VISIT,
        12000,
        90,
        DeliveredBy.PROVIDER,
        FundingTier.BAODI,
        (1, "18:00"),
        0,
        False,
        False,
        True,
        None,
    ),
    (
        "clean-hour",
        "助洁（按小时）",
        Category.CLEANING,
        Unit.PER_HOUR,
        4500,
        120,
        DeliveredBy.PROVIDER,
        FundingTier.SHICHANG,
        None,
        240,
        True,
        True,
        False,
        240,
    ),
    (
        "escort",
        "助医陪诊",
        Category.ESCORT,
        Unit.PER_HOUR,
        5000,
        180,
        DeliveredBy.PROVIDER,
        FundingTier.SHICHANG,
        (1, "20:00"),
        0,
        True,
        True,
        False,
        480,
    ),
    (
        "rehab-home",
        "上门康复训练",
        Category.REHAB,
        Unit.PER_VISIT,
        15000,
        60,
        DeliveredBy.PROVIDER,
        FundingTier.BAODI,
        (2, "17:00"),
        0,
        False,
        False,
        False,
        None,
    ),
    (
        "chat",
        "陪聊关爱",
        Category.COMPANIONSHIP,
        Unit.PER_HOUR,
        0,
        60,
        DeliveredBy.VOLUNTEERS,
        FundingTier.GONGYI,
        None,
        120,
        True,
        True,
        False,
        120,
    ),
    (
        "errand",
        "代买代办",
        Category.ERRAND,
        Unit.PER_VISIT,
        500,
        60,
        DeliveredBy.PROVIDER,
        FundingTier.GONGYI,
        None,
        120,
        True,
        True,
        False,
        None,
    ),
    (
        "adapt-survey",
        "适老化改造上门评估",
        Category.HOME_ADAPTATION,
        Unit.PER_VISIT,
        0,
        90,
        DeliveredBy.PROVIDER,
        FundingTier.BAODI,
        (3, "17:00"),
        0,
        False,
        False,
        True,
        None,
    ),
]
# name, funding line, tier, category, min age, max age, 低保, 独居, 失能, min 长护险 level, quota, percent, amount, cap
DEMO_RULES: list[tuple[Any, ...]] = [
    (
        "80岁以上助餐补贴",
        "街道助餐补贴",
        FundingTier.SHICHANG,
        Category.MEAL_CANTEEN,
        80,
        None,
        False,
        False,
        False,
        None,
        False,
        0,
        500,
        500,
    ),
    (
        "80岁以上送餐补贴",
        "街道助餐补贴",
        FundingTier.SHICHANG,
        Category.MEAL_DELIVERY,
        80,
        None,
        False,
        False,
        False,
        None,
        False,
        0,
        500,
        500,
    ),
    (
        "低保老人助餐补贴",
        "民政低保补贴",
        FundingTier.SHICHANG,
        Category.MEAL_CANTEEN,
        60,
        None,
        True,
        False,
        False,
        None,
        False,
        0,
        500,
        500,
    ),
    (
        "独居老人助浴补贴",
        "街道养老服务补贴",
        FundingTier.SHICHANG,
        Category.BATHING,
        70,
        None,
        False,
        True,
        False,
        None,
        False,
        50,
        0,
        6000,
    ),
    ("长护险居家护理", "长护险", FundingTier.BAODI, None, 60, None, False, False, False, 2, True, 90, 0, 0),
    (
        "长护险个人自付部分（低保减免）",
        "民政低保补贴",
        FundingTier.BAODI,
        None,
        60,
        None,
        True,
        False,
        False,
        2,
        False,
        10,
        0,
        0,
    ),
    (
        "适老化改造评估",
        "街道养老服务补贴",
        FundingTier.BAODI,
        Category.HOME_ADAPTATION,
        60,
        None,
        False,
        False,
        False,
        None,
        False,
        100,
        0,
        0,
    ),
]
WORKERS = {
    HOME_CARE: (("carew1", "周护理员"), ("carew2", "吴护理员")),
    CANTEEN: (("carew3", "郑送餐员"), ("carew4", "冯送餐员")),
}


def _account(login: str, nickname: str) -> User:
    openid = SandboxMiniProgram(current_app.extensions["linli.settings"]).code_to_session(login).openid
    user = db.session.scalar(select(User).where(User.wechat_openid == openid))
    if user is None:
        user = User(id=new_id(), wechat_openid=openid, nickname=nickname)
        user.grant(Role.RESIDENT)
        db.session.add(user)
        db.session.flush()
    return user


def seed_demo() -> dict[str, Any]:
    if db.session.scalar(select(CareProvider.id).where(CareProvider.name == HOME_CARE)) is not None:
        return {}
    providers = {
        HOME_CARE: CareProvider(
            name=HOME_CARE,
            kind=DeliveredBy.PROVIDER,
            daily_capacity=120,
            contact_name="服务台",
            contact_phone="021-65550101",
        ),
        CANTEEN: CareProvider(
            name=CANTEEN,
            kind=DeliveredBy.CANTEEN,
            daily_capacity=600,
            contact_name="食堂",
            contact_phone="021-65550102",
        ),
    }
    db.session.add_all(providers.values())
    db.session.flush()
    for provider_name, people in WORKERS.items():
        for login, name in people:
            db.session.add(
                CareWorker(provider=providers[provider_name], user=_account(login, name), name=name, skills=[])
            )
    for (
        code,
        name,
        category,
        unit,
        price,
        minutes,
        by,
        tier,
        cutoff,
        lead,
        self_pay,
        coins,
        photos,
        cap,
    ) in DEMO_SERVICES:
        provider = (
            providers[CANTEEN]
            if by == DeliveredBy.CANTEEN
            else providers[HOME_CARE]
            if by == DeliveredBy.PROVIDER
            else None
        )
        db.session.add(
            CareService(
                code=code,
                name=name,
                category=category,
                unit=unit,
                list_price_fen=price,
                duration_minutes=minutes,
                delivered_by=by,
                provider_id=provider.id if provider else None,
                funding_tier=tier,
                cutoff_days_before=cutoff[0] if cutoff else None,
                cutoff_local_time=cutoff[1] if cutoff else None,
                lead_time_minutes=lead,
                self_pay_allowed=self_pay,
                coin_redeemable=coins,
                needs_photos=photos,
                hourly_cap_minutes=cap,
            )
        )
    for name, line, tier, category, lo, hi, dibao, alone, disabled, level, quota, percent, amount, cap in DEMO_RULES:
        db.session.add(
            SubsidyRule(
                name=name,
                funding_line=line,
                tier=tier,
                category=category,
                min_age=lo,
                max_age=hi,
                requires_dibao=dibao,
                requires_living_alone=alone,
                requires_disabled=disabled,
                min_ltc_level=level,
                uses_ltc_quota=quota,
                percent=percent,
                amount_fen=amount,
                cap_fen=cap,
            )
        )
    for index, elder in enumerate(demo_elders()):
        profile = pricing.profile_of(elder)
        assert profile is not None
        profile.living_alone = True
        if index == 0:
            profile.disabled, profile.ltc_level, profile.ltc_weekly_visits = True, 3, 3
    db.session.flush()
    return {"care services added": len(DEMO_SERVICES), "care providers added": len(providers)}
