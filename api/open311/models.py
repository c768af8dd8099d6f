"""Open311 partners: the city systems and 311 tools allowed to file reports through GeoReport v2.

One row per issued API key. Only a SHA-256 digest of the key is stored: the key is 256 random bits, so a
slow password hash buys nothing, and a digest lets a request find its row with one index lookup. The
plain key is printed once by `flask --app wsgi create-open311-key NAME` and never again. The row's id is
what an incident records as its `partner_id`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, IdMixin, utcnow


class Open311Key(IdMixin, Base):
    __tablename__ = "open311_keys"

    name: Mapped[str] = mapped_column(String(64))  # the partner system, e.g. "一网统管"
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256 of the key
    # The key's first characters, so an operator can tell keys apart without seeing them.
    key_prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    @property
    def active(self) -> bool:
        return self.revoked_at is None
