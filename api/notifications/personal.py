"""What notifications holds about a person (the messages to them, their subscribe-message credits), and
how it is exported and erased. Messages to *other* people that named them (a binding request an elder
received) lose the name: the person is "已注销用户" there."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select

from api.accounts.models import User
from api.db import db
from api.notifications.models import Notification, SubscriptionCredit
from api.personaldata import PersonalData, record

ERASED_NAME = "已注销用户"

personal_data = PersonalData(
    categories=("消息与通知记录", "订阅消息授权次数"),
    covers=("notifications.user_id", "notifications.title", "notifications.body", "subscription_credits.user_id"),
    export="api.notifications.personal:export",
    erase="api.notifications.personal:erase",
    summary="api.notifications.personal:summary",
)


def export(user: User) -> dict[str, Any]:
    messages = db.session.scalars(
        select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
    ).all()
    return {
        "messages": [
            record(m, "kind", "title", "body", "status", "channel", "created_at", "read_at") for m in messages
        ],
        **summary(user),
    }


def erase(user: User) -> None:
    db.session.execute(delete(Notification).where(Notification.user_id == user.id))
    db.session.execute(delete(SubscriptionCredit).where(SubscriptionCredit.user_id == user.id))
    name = (user.nickname or "").strip()
    if len(name) < 2:  # a one-letter nickname would blank letters of every message
        return
    pattern = f"%{name}%"
    named = db.session.scalars(
        select(Notification).where(or_(Notification.title.like(pattern), Notification.body.like(pattern)))
    ).all()
    for message in named:
        message.title = message.title.replace(name, ERASED_NAME)[:64]
        message.body = message.body.replace(name, ERASED_NAME)
        message.context = {
            k: (v.replace(name, ERASED_NAME) if isinstance(v, str) else v) for k, v in message.context.items()
        }
    db.session.flush()


def summary(user: User) -> dict[str, Any]:
    credits = db.session.execute(
        select(SubscriptionCredit.template_id, SubscriptionCredit.credits).where(SubscriptionCredit.user_id == user.id)
    ).all()
    return {"subscribe_message_credits": {template: count for template, count in credits}}
