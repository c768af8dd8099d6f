"""What the Official Account side holds about a person: their follow-and-bind codes (the OA openid itself
is on the user, with accounts)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from api.accounts.models import User
from api.db import db
from api.officialaccount.models import OfficialAccountLink
from api.personaldata import PersonalData, record

personal_data = PersonalData(
    categories=("公众号关注绑定",),
    covers=("official_account_links.user_id",),
    export="api.officialaccount.personal:export",
    erase="api.officialaccount.personal:erase",
    summary="api.officialaccount.personal:summary",
)


def export(user: User) -> dict[str, Any]:
    links = db.session.scalars(select(OfficialAccountLink).where(OfficialAccountLink.user_id == user.id)).all()
    return {"link_codes": [record(link, "created_at", "expires_at", "used_at") for link in links], **summary(user)}


def erase(user: User) -> None:
    db.session.execute(delete(OfficialAccountLink).where(OfficialAccountLink.user_id == user.id))


def summary(user: User) -> dict[str, Any]:
    return {"official_account_linked": user.wechat_oa_openid is not None}
