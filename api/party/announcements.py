"""Announcements (党务公告) to the members of an organisation and below, with read receipts: who has read one and
who has not, for the secretary. A read is recorded once (`INSERT … ON CONFLICT DO NOTHING`)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, and_, select

from api.accounts.models import User
from api.db import db, new_id, utcnow
from api.dialect import insert_on_conflict
from api.notifications.services import notify
from api.party import reach
from api.party.members import audience, for_member, my_member, one_for_me
from api.party.models import Announcement, AnnouncementRead, PartyMember


def publish(user: User, org_id: uuid.UUID, title: str, body: str) -> Announcement:
    """Publish to an organisation in reach; each member in good standing with an account is told."""
    org = reach.org_for(user, org_id)
    item = Announcement(
        id=new_id(),
        org_id=org.id,
        org=org,
        title=title.strip(),
        body=body,
        published_at=utcnow(),
        created_by_id=user.id,
    )
    db.session.add(item)
    db.session.flush()
    for member in db.session.scalars(audience(org).where(PartyMember.user_id.is_not(None))):
        assert member.user is not None
        notify(
            member.user,
            "party_announcement",
            {"title": item.title, "org_name": org.name, "announcement_id": item.id},
            subject_path=org.area_path,
            dedupe_key=f"party-announcement:{item.id}",
        )
    return item


def staff_announcements(user: User) -> Select[tuple[Announcement]]:
    return reach.in_reach(user, Announcement)


def staff_announcement(user: User, announcement_id: uuid.UUID) -> Announcement:
    item = db.session.get(Announcement, announcement_id)
    return reach.ensure(user, item, item.org if item is not None else None)


def receipts(user: User, announcement_id: uuid.UUID) -> dict[str, Any]:
    """Who of the audience (members in good standing of the organisation and below, now) has read it, when,
    and who has not — one query."""
    item = staff_announcement(user, announcement_id)
    rows = db.session.execute(
        audience(item.org)
        .add_columns(AnnouncementRead.read_at)
        .outerjoin(
            AnnouncementRead,
            and_(AnnouncementRead.member_id == PartyMember.id, AnnouncementRead.announcement_id == item.id),
        )
        .order_by(PartyMember.name, PartyMember.id)
    ).all()
    read = [{"member_id": m.id, "name": m.name, "branch_name": m.branch.name, "read_at": at} for m, at in rows if at]
    unread = [
        {"member_id": m.id, "name": m.name, "branch_name": m.branch.name, "read_at": None} for m, at in rows if not at
    ]
    return {"announcement_id": item.id, "title": item.title, "read": read, "unread": unread}


def my_announcements(user: User) -> Select[tuple[Announcement]]:
    return for_member(my_member(user), Announcement)


def read_times(member: PartyMember, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    if not ids:
        return {}
    return dict(
        db.session.execute(
            select(AnnouncementRead.announcement_id, AnnouncementRead.read_at).where(
                AnnouncementRead.member_id == member.id, AnnouncementRead.announcement_id.in_(ids)
            )
        ).all()
    )


def my_announcement(user: User, announcement_id: uuid.UUID) -> tuple[Announcement, PartyMember]:
    return one_for_me(user, Announcement, announcement_id)


def mark_read(user: User, announcement_id: uuid.UUID) -> tuple[Announcement, Any]:
    item, member = my_announcement(user, announcement_id)
    db.session.execute(
        insert_on_conflict(AnnouncementRead)
        .values(id=new_id(), announcement_id=item.id, member_id=member.id, read_at=utcnow())
        .on_conflict_do_nothing(index_elements=["announcement_id", "member_id"])
    )
    return item, read_times(member, [item.id]).get(item.id)
