"""The tables of rehabilitation aids lending (康复辅具共享): the kinds of aid the subdistrict lends (`aid_types`,
with their deposit and loan period), the service stations that keep them (`aid_locations`, placed in an area),
the stock itself (`aid_items`, one row per wheelchair with its asset tag and condition), loans (`aid_loans`: one
row from the reservation through the hand-out to the return) and the people waiting for a kind of aid at a
station (`aid_waits`).

An item is never in two live loans: a partial unique index on `aid_loans(item_id)` over the live statuses
(reserved, lent) refuses a second one on PostgreSQL and SQLite alike, whatever the code does; the service also
takes the item's row lock first, so a second request waits and then finds the item taken (409), never a 500.

Every place-bound row carries `area_path` (its station's area, copied when made), what `api.scope` compares.
Money is integer fen.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.accounts.models import Area, User
from api.db import Base, IdMixin, enum_column, utcnow
from api.eldercare.models import Elder

PATH_OPS = {"area_path": "varchar_pattern_ops"}
LIVE = "status = 'reserved' OR status = 'lent'"


class Condition(enum.StrEnum):
    GOOD = "good"  # lendable
    FAIR = "fair"  # lendable, worn
    NEEDS_REPAIR = "needs_repair"  # back damaged: not lent until staff mend it
    RETIRED = "retired"  # out of stock for good


LENDABLE = (Condition.GOOD, Condition.FAIR)


class LoanStatus(enum.StrEnum):
    RESERVED = "reserved"  # held at the station for pick-up (its deposit paid or being paid)
    LENT = "lent"  # handed out; due back at `due_at`
    RETURNED = "returned"
    EXPIRED = "expired"  # not picked up in time, or its deposit not paid
    CANCELLED = "cancelled"  # by the resident or staff


LIVE_LOAN = (LoanStatus.RESERVED, LoanStatus.LENT)


class AidType(IdMixin, Base):
    """A kind of aid the subdistrict lends (轮椅, 助行器, 洗澡椅, 护理床 …): its deposit (0: none) and loan period."""

    __tablename__ = "aid_types"
    __table_args__ = (
        CheckConstraint("deposit_fen >= 0", name="deposit_not_negative"),
        CheckConstraint("loan_days BETWEEN 1 AND 365", name="loan_days_in_range"),
    )

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(200), default="")
    deposit_fen: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    loan_days: Mapped[int]
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AidLocation(IdMixin, Base):
    """A community service station (社区服务站) that keeps and hands out aids, in an area."""

    __tablename__ = "aid_locations"
    __table_args__ = (Index("ix_aid_locations_area_path_id", "area_path", "id", postgresql_ops=PATH_OPS),)

    area_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    area_path: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(200))
    opening_hours: Mapped[str] = mapped_column(String(200), default="")
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    area: Mapped[Area] = relationship(lazy="joined")


class AidItem(IdMixin, Base):
    """One aid in stock: its asset tag (固定资产编号), its station and its condition."""

    __tablename__ = "aid_items"
    __table_args__ = (
        UniqueConstraint("asset_tag"),
        Index("ix_aid_items_type_id_location_id", "type_id", "location_id"),
        Index("ix_aid_items_area_path_id", "area_path", "id", postgresql_ops=PATH_OPS),
    )

    type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("aid_types.id", ondelete="RESTRICT"))
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("aid_locations.id", ondelete="RESTRICT"), index=True)
    area_path: Mapped[str] = mapped_column(String(255))
    asset_tag: Mapped[str] = mapped_column(String(32))
    condition: Mapped[Condition] = mapped_column(enum_column(Condition, "aid_condition"))
    condition_note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    type: Mapped[AidType] = relationship(lazy="joined", innerjoin=True)
    location: Mapped[AidLocation] = relationship(lazy="joined", innerjoin=True)


class AidLoan(IdMixin, Base):
    """One lending of one item, from the reservation to the return (`services.LOAN_MOVES`), for the requester
    themselves or for an elder they are a confirmed family member of. The deposit (the type's, copied) is a
    payment order of `api.payments`; what comes back on return is the deposit less the recorded deduction."""

    __tablename__ = "aid_loans"
    __table_args__ = (
        CheckConstraint("deposit_fen >= 0 AND deduction_fen >= 0 AND refund_fen >= 0", name="money_not_negative"),
        CheckConstraint("deduction_fen <= deposit_fen", name="deduction_within_deposit"),
        CheckConstraint("renewals BETWEEN 0 AND 1", name="renewed_at_most_once"),
        # The rule of the domain: an item is in one live loan (reserved or lent) at a time.
        Index("uq_aid_loans_item_live", "item_id", unique=True, postgresql_where=text(LIVE), sqlite_where=text(LIVE)),
        Index("ix_aid_loans_user_id_id", "user_id", "id"),
        Index("ix_aid_loans_status_due_at", "status", "due_at"),
        Index("ix_aid_loans_status_hold_until", "status", "hold_until"),
        Index("ix_aid_loans_area_path_id", "area_path", "id", postgresql_ops=PATH_OPS),
    )

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("aid_items.id", ondelete="RESTRICT"))
    type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("aid_types.id", ondelete="RESTRICT"))
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("aid_locations.id", ondelete="RESTRICT"), index=True)
    area_path: Mapped[str] = mapped_column(String(255))
    # Who asked (None once their account was erased) and, when it is for an elder, which one.
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    elder_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("elders.id", ondelete="SET NULL"), index=True)
    status: Mapped[LoanStatus] = mapped_column(enum_column(LoanStatus, "aid_loan_status"))
    reserved_at: Mapped[datetime] = mapped_column(default=utcnow)
    hold_until: Mapped[datetime | None]  # pick it up before this
    deposit_fen: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_orders.id", ondelete="RESTRICT"))
    deposit_paid_at: Mapped[datetime | None]
    lent_at: Mapped[datetime | None]
    lent_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    lend_note: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime | None]
    renewals: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    reminded_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    returned_at: Mapped[datetime | None]
    returned_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    return_note: Mapped[str] = mapped_column(Text, default="")
    damaged: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    deduction_fen: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    deduction_reason: Mapped[str] = mapped_column(String(200), default="")
    refund_fen: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    ended_at: Mapped[datetime | None]  # when it left the live statuses
    cancelled_by: Mapped[str | None] = mapped_column(String(16))  # resident, staff, system
    cancel_reason: Mapped[str | None] = mapped_column(String(200))

    item: Mapped[AidItem] = relationship(lazy="joined", innerjoin=True)
    # Named in the station's list of loans, which loads them with its page (`services.staff_loans`).
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    elder: Mapped[Elder | None] = relationship()


class AidWait(IdMixin, Base):
    """A resident waiting for a kind of aid at a station (none was free): told when one comes back. While
    someone waits, a loan of that kind there is not renewed."""

    __tablename__ = "aid_waits"
    __table_args__ = (
        Index(
            "uq_aid_waits_open",
            "user_id",
            "type_id",
            "location_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
            sqlite_where=text("ended_at IS NULL"),
        ),
        Index("ix_aid_waits_type_id_location_id", "type_id", "location_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("aid_types.id", ondelete="RESTRICT"))
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("aid_locations.id", ondelete="RESTRICT"))
    area_path: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    notified_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
