"""Accounts: people, their WeChat identities and staff logins, roles, refresh tokens, and where they live.

Areas form the tree 街道 (subdistrict) → 居委会 (committee) → 小区 (estate) → 楼 (building); rooms
(室) hang under buildings. Every area carries a materialised `path` ("/KJ/KJ05/KJ05-02/12/") so a
staff member's scope check is one prefix comparison, not a recursive walk. A room's address exists in two
forms: in full (`Room.address`, committee first) and the short form that finds the door (`Room.door_address`:
estate, building, room) for messages whose fields are cut at a few characters.

Also what a person agreed to and who looked at their data: the privacy policy versions staff publish and
each person's acceptance of them, and the access log — one append-only row per staff read of a person's
personal detail (who, when, whose, which fields, from which route).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, ForeignKey, Index, String, Text, UniqueConstraint, select, text
from sqlalchemy.ext.hybrid import Comparator, hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from sqlalchemy.sql import operators

from api.crypto import Encrypted, lookup_hash
from api.db import Base, IdMixin, TimestampMixin, enum_column, utcnow


class Role(enum.StrEnum):
    RESIDENT = "resident"
    FAMILY = "family"
    VOLUNTEER = "volunteer"
    STAFF = "staff"
    ADMIN = "admin"
    GRID_WORKER = "grid_worker"  # 网格员: handles dispatched incidents and device alerts on the ground
    SUPERVISOR = "supervisor"  # 督办: receives SLA escalations of the cases in their area
    FINANCE = "finance"  # 财务: refunds on a resident's behalf, reconciliation differences (api/payments)
    # 党组织书记、委员: a party member appointed to run a party organisation acts in it and below (api/party); held
    # while an appointment lasts, beside their resident role.
    PARTY_OFFICER = "party_officer"


class AreaKind(enum.StrEnum):
    SUBDISTRICT = "subdistrict"
    COMMITTEE = "committee"
    ESTATE = "estate"
    BUILDING = "building"


class HouseholdRelation(enum.StrEnum):
    OWNER = "owner"
    TENANT = "tenant"
    FAMILY = "family"


class HouseholdRequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


# Staff scope compares paths by prefix (`LIKE '/KJ/KJ01/%'`): on PostgreSQL only an index with the pattern
# operator class serves that under a non-C collation (the unique index on `path` does not).
PATH_PREFIX_OPS = "varchar_pattern_ops"


class Area(IdMixin, Base):
    __tablename__ = "areas"
    __table_args__ = (Index("ix_areas_path_prefix", "path", postgresql_ops={"path": PATH_PREFIX_OPS}),)

    kind: Mapped[AreaKind] = mapped_column(enum_column(AreaKind, "area_kind"))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    path: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Where an estate is (its gate, WGS-84): how far a volunteer's home is from an alarm next door. Set for
    # estates; committees and buildings leave it empty.
    lat: Mapped[float | None]
    lng: Mapped[float | None]

    parent: Mapped[Area | None] = relationship(remote_side="Area.id")

    @property
    def full_name(self) -> str:
        names = []
        node: Area | None = self
        while node is not None and node.kind != AreaKind.SUBDISTRICT:
            names.append(node.name)
            node = node.parent
        return "".join(reversed(names))


# A WeChat template `thing` slot: where the door-finding form of an address is shown.
DOOR_ADDRESS_LIMIT = 20
# Said of nearly every estate: dropped first when an estate's name must be shortened.
_GENERIC_ESTATE_SUFFIXES = ("小区",)
_COMMITTEE_SUFFIXES = ("居民委员会", "居委会")


def _without_suffix(name: str, suffixes: tuple[str, ...]) -> str:
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


class Room(IdMixin, Base):
    __tablename__ = "rooms"
    __table_args__ = (UniqueConstraint("building_id", "number"),)

    building_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    number: Mapped[str] = mapped_column(String(16))
    floor: Mapped[int]

    building: Mapped[Area] = relationship(lazy="joined", innerjoin=True)

    @property
    def path(self) -> str:
        return self.building.path

    @property
    def address(self) -> str:
        """The full address, committee first: "控江二村居委会控江二村东块10号楼104室"."""
        return f"{self.building.full_name}{self.number}室"

    def door_address(self, limit: int = DOOR_ADDRESS_LIMIT) -> str:
        """Estate, building and room in at most `limit` characters ("控江二村东块10号楼104室"), for messages that
        cut long text; the full address stays where there is room for it.

        The committee is dropped (the estate finds the building; the committee only finds the office). When
        estate, building and room are still too long, the estate is shortened — its generic "小区" dropped, then
        its tail cut with "…" — never the building or the room. Building and room alone longer than `limit` are
        returned whole: the message catalogue fits address slots by cutting from the left, so the room survives.
        """
        building = self.building
        door = f"{building.name}{self.number}室"
        place = building.parent
        if place is None or place.kind == AreaKind.SUBDISTRICT:
            estate = ""
        elif place.kind == AreaKind.COMMITTEE:  # a building straight under a committee: its name is the place
            estate = _without_suffix(place.name, _COMMITTEE_SUFFIXES)
        else:
            estate = place.name
        budget = limit - len(door)
        if len(estate) > budget:
            estate = _without_suffix(estate, _GENERIC_ESTATE_SUFFIXES)
        if len(estate) > budget:
            # Two characters and "…" still tell estates apart on a street; fewer say nothing.
            estate = estate[: budget - 1] + "…" if budget >= 3 else ""
        return estate + door


class _PlacePath(Comparator[str | None]):
    """The SQL side of `area_path_through`: the place's path as a correlated subquery, except that "starts with"
    (the staff scope, `api.scope`) reads `place_id IN (the places whose path starts so)`, "equals" likewise,
    and "is NULL" `place_id IS NULL`. In a WHERE both forms say the same (nothing negates a scope);
    the second lets PostgreSQL find the places through the path's prefix index and the rows through their
    place's index, instead of running the subquery once per row of the table."""

    def __init__(self, expression: ColumnElement[str | None], place_id: Any, through_room: bool) -> None:
        super().__init__(expression)
        self.place_id = place_id
        self.through_room = through_room

    def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
        if op in (operators.is_, operators.eq) and other[0] is None:
            # A place id always names a row (a foreign key): the path is missing exactly when the id is.
            return self.place_id.is_(None)
        if op in (operators.startswith_op, operators.eq):
            places = select(Room.id).join(Area, Room.building_id == Area.id) if self.through_room else select(Area.id)
            places = places.where(op(Area.path, *other, **kwargs)).correlate_except(Area, Room)
            return self.place_id.in_(places)
        return op(self.expression, *other, **kwargs)


def area_path_through(relationship: str) -> hybrid_property[str | None]:
    """The `area_path` of a model placed through `relationship` (to an Area or a Room, held in `<relationship>_id`):
    the place's path on an object, None while it has none; in SQL a correlated subquery giving the same, so one
    attribute serves single objects and list filters alike (see `api.scope`)."""

    def path(self: Any) -> str | None:
        place = getattr(self, relationship)
        return place.path if place is not None else None

    def comparator(cls: Any) -> _PlacePath:
        place_id = getattr(cls, f"{relationship}_id")
        through_room = getattr(cls, relationship).property.mapper.class_ is Room
        if through_room:
            query = select(Area.path).join(Room, Room.building_id == Area.id).where(Room.id == place_id)
        else:
            query = select(Area.path).where(Area.id == place_id)
        # Its own areas and rooms even when the enclosing query joins them: only the placed row is correlated.
        return _PlacePath(query.correlate_except(Area, Room).scalar_subquery(), place_id, through_room)

    return hybrid_property(path, custom_comparator=comparator)


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (Index("ix_users_wechat_unionid", "wechat_unionid"),)

    nickname: Mapped[str] = mapped_column(String(32), default="")
    avatar_url: Mapped[str | None] = mapped_column(String(512))
    # Encrypted at rest (api.crypto); `phone_hash` finds a number without decrypting every row.
    phone: Mapped[str | None] = mapped_column(Encrypted("users.phone"))
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    wechat_openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    wechat_unionid: Mapped[str | None] = mapped_column(String(64))
    # The same person's openid under the subdistrict's Official Account (template messages to families).
    wechat_oa_openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    username: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    staff_area_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    failed_login_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    # What event eligibility rules ask about (age 60+, party members); set by staff or the resident.
    birth_year: Mapped[int | None]
    is_party_member: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    # The privacy policy version the person accepted last, and when (the history: PolicyAcceptance).
    policy_version: Mapped[str | None] = mapped_column(String(32))
    policy_accepted_at: Mapped[datetime | None]

    @validates("phone")
    def _hash_phone(self, _key: str, value: str | None) -> str | None:
        self.phone_hash = lookup_hash(value)
        return value

    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )
    staff_area: Mapped[Area | None] = relationship(lazy="joined")

    @property
    def roles(self) -> list[str]:
        return sorted(r.role.value for r in self.role_rows)

    def has_role(self, *roles: Role | str) -> bool:
        mine = {r.role for r in self.role_rows}
        return any(Role(r) in mine for r in roles)

    def grant(self, role: Role) -> None:
        if not self.has_role(role):
            self.role_rows.append(UserRole(role=role))

    @property
    def is_staff(self) -> bool:
        return self.has_role(Role.STAFF, Role.ADMIN)


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"), primary_key=True)

    user: Mapped[User] = relationship(back_populates="role_rows")


class RefreshToken(IdMixin, Base):
    """One link of a rotating refresh-token chain. Only the SHA-256 of the token is stored."""

    __tablename__ = "refresh_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class HouseholdRequest(IdMixin, Base):
    """A resident asks to be bound to a room; staff of that area approve or reject."""

    __tablename__ = "household_requests"
    __table_args__ = (
        Index(
            "uq_household_requests_pending",
            "user_id",
            "room_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index("ix_household_requests_status_created", "status", "created_at", "id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    relation: Mapped[HouseholdRelation] = mapped_column(enum_column(HouseholdRelation, "household_relation"))
    status: Mapped[HouseholdRequestStatus] = mapped_column(
        enum_column(HouseholdRequestStatus, "household_request_status"), default=HouseholdRequestStatus.PENDING
    )
    note: Mapped[str] = mapped_column(String(200), default="")
    reject_reason: Mapped[str | None] = mapped_column(String(200))
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
    room: Mapped[Room] = relationship(lazy="joined")

    area_path = area_path_through("room")


class HouseholdMember(IdMixin, Base):
    __tablename__ = "household_members"
    __table_args__ = (UniqueConstraint("user_id", "room_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    relation: Mapped[HouseholdRelation] = mapped_column(enum_column(HouseholdRelation, "household_relation"))
    approved_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    room: Mapped[Room] = relationship(lazy="joined")


class PrivacyPolicy(IdMixin, Base):
    """One published version of the privacy policy; the version in force is the latest whose effective
    time has come. Versions are never edited: a change is a new version."""

    __tablename__ = "privacy_policies"

    version: Mapped[str] = mapped_column(String(32), unique=True)
    text: Mapped[str] = mapped_column(Text)
    effective_at: Mapped[datetime] = mapped_column(index=True)
    published_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PolicyAcceptance(IdMixin, Base):
    """A person accepted a version of the privacy policy (kept: what they agreed to, and when)."""

    __tablename__ = "policy_acceptances"
    __table_args__ = (UniqueConstraint("user_id", "version"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(32))
    accepted_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccessLog(IdMixin, Base):
    """A staff read of a person's personal detail. Append-only: no route changes or deletes a row; the
    retention job removes rows older than the retention period, and an erased person's rows lose their
    subject. `subject_kind` is "user" or "elder" (an elder's record may have no account of its own)."""

    __tablename__ = "access_log"
    __table_args__ = (
        Index("ix_access_log_subject", "subject_kind", "subject_id", "id"),
        Index("ix_access_log_staff_id_id", "staff_id", "id"),
        Index("ix_access_log_at", "at"),
    )

    staff_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # What the person looked at sees of the reader: their role and committee, not their name.
    staff_role: Mapped[str] = mapped_column(String(16))
    staff_area_code: Mapped[str | None] = mapped_column(String(32))
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[uuid.UUID | None]
    fields: Mapped[list[Any]] = mapped_column(JSON, default=list)
    route: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=utcnow)
