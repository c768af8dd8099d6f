"""The Official Account's side of a person: a pending follow-and-bind code linking a WeChat follower of
the subdistrict's Official Account (its openid) to the user who asked for the code."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, IdMixin, utcnow


class OfficialAccountLink(IdMixin, Base):
    """A pending follow-and-bind: the user shows this code/scene to the Official Account to link openids."""

    __tablename__ = "official_account_links"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
