"""Every message to a person goes through here.

`notify(user, kind, context)` writes an outbox row in the caller's transaction: if that transaction
rolls back, nothing is sent; once it commits, the row is handed to a worker (`deliver`), and a beat
job (`sweep_due`) hands it over again if the broker lost it or a worker died. `deliver` locks the row,
so a row enqueued twice is sent once; it tries the kind's channels in order (Official Account
template message, mini-program subscribe message), retries transient WeChat failures with
exponential backoff and jitter, and gives up on a channel that will never work. Every message is in
the person's in-app inbox whatever happens on WeChat.
"""

from __future__ import annotations

import enum
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, event, exists, func, select, update
from sqlalchemy.orm import Session

from api.accounts.models import Area, HouseholdMember, Role, Room, User
from api.config import Settings
from api.db import db, new_id, utcnow
from api.errors import ApiError, NotFound
from api.notifications.catalogue import CATALOGUE, MessageKind, render, template_data, template_id
from api.notifications.models import (
    AttemptOutcome,
    Channel,
    DeliveryAttempt,
    DeliveryStatus,
    Notification,
    SubscriptionCredit,
    Urgency,
)
from api.wechat import WechatCallError, make_client

log = logging.getLogger(__name__)

# WeChat answers that will not change however often we try: give up on that channel.
PERMANENT_ERRCODES = frozenset(
    {
        40003,  # invalid openid
        40036,  # invalid template id size
        40037,  # invalid template id
        41028,  # invalid form id
        41029,  # form id used
        41030,  # invalid page
        43004,  # the user does not follow the Official Account
        43101,  # the user did not accept (or used up) the subscription
        47003,  # template data does not match the slot rules
    }
)
MAX_CREDITS_PER_TEMPLATE = 1000
SWEEP_BATCH = 500
_OUTBOX_KEY = "linli.outbox"


# ------------------------------------------------------------------------------------------------
# Writing messages
# ------------------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def notify(
    user: User,
    kind: str,
    context: dict[str, Any] | None = None,
    *,
    urgency: Urgency | None = None,
    dedupe_key: str | None = None,
) -> Notification:
    """Queue a message to `user` in the current transaction; delivered only if it commits.

    `dedupe_key` names a domain event that must reach a person once (an alert's escalation level,
    a reminder): a second call with the same key returns the first message and sends nothing.
    """
    entry = CATALOGUE.get(kind)
    if entry is None:
        raise ValueError(f"unknown message kind {kind!r}: add it to api.notifications.catalogue")
    if dedupe_key is not None:
        existing = db.session.scalar(
            select(Notification).where(Notification.user_id == user.id, Notification.dedupe_key == dedupe_key)
        )
        if existing is not None:
            return existing
    ctx = _jsonable(context or {})
    now = utcnow()
    message = Notification(
        id=new_id(),
        user_id=user.id,
        kind=kind,
        urgency=urgency or entry.urgency,
        title=render(entry.title, ctx)[:64],
        body=render(entry.body, ctx),
        page=render(entry.page, ctx) if entry.page else None,
        context=ctx,
        dedupe_key=dedupe_key,
        status=DeliveryStatus.PENDING,
        attempt_count=0,
        next_attempt_at=now,
        created_at=now,
    )
    # No flush: the id is ours already, and an alarm storm notifying thousands in one transaction then
    # writes them in a few multi-row INSERTs at commit instead of one round trip each.
    db.session.add(message)
    db.session.info.setdefault(_OUTBOX_KEY, []).append(message.id)
    return message


# One immediate reconnect (a pooled connection the broker dropped since), then give up. Not `retry=False`:
# kombu then reconnects on its own terms (broker_connection_timeout 4 s, pauses of 2 and 4 s), holding every
# hand-over ~6 s while the broker is down — a commit notifying N people would wait 6·N s.
_ENQUEUE_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0, "interval_max": 0}


def _enqueue(notification_id: uuid.UUID, countdown: float | None = None, producer: Any = None) -> bool:
    """Hand a row to the workers. A broker outage is logged, not raised: the sweep will find the row."""
    from api.notifications.tasks import deliver_notification

    try:
        deliver_notification.apply_async(
            args=[str(notification_id)],
            countdown=countdown,
            retry=True,
            retry_policy=_ENQUEUE_RETRY_POLICY,
            producer=producer,
        )
    except Exception:
        log.warning("could not enqueue notification %s; the sweep will deliver it", notification_id, exc_info=True)
        return False
    return True


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    from api.extensions import celery

    ids = session.info.pop(_OUTBOX_KEY, [])
    if len(ids) <= 1 or celery.conf.task_always_eager:
        for notification_id in ids:
            _enqueue(notification_id)
        return
    # Many messages in one commit (an alarm storm, an event cancelled): one producer for all of them, and
    # after the first refusal the rest are left to the sweep rather than each waiting on a dead broker.
    handled = 0  # enqueued, or refused and logged by _enqueue
    try:
        with celery.producer_or_acquire() as producer:
            for notification_id in ids:
                handled += 1
                if not _enqueue(notification_id, producer=producer):
                    break
    except Exception:
        log.debug("the broker connection failed while enqueueing", exc_info=True)
    for notification_id in ids[handled:]:
        log.warning("could not enqueue notification %s; the sweep will deliver it", notification_id)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_OUTBOX_KEY, None)


# ------------------------------------------------------------------------------------------------
# Delivering them
# ------------------------------------------------------------------------------------------------


class WechatSenders:
    """The two WeChat clients that deliver messages; a channel without credentials is the sandbox."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.official_account = (
            make_client(settings.wechat_oa_app_id, settings.wechat_oa_secret, settings)
            if settings.wechat_oa_app_id and settings.wechat_oa_secret
            else None
        )
        self.miniprogram = (
            None
            if settings.wechat_sandbox
            else make_client(settings.wechat_miniapp_id, settings.wechat_miniapp_secret, settings)
        )

    def is_sandbox(self, channel: Channel) -> bool:
        client = self.official_account if channel == Channel.OFFICIAL_ACCOUNT else self.miniprogram
        return client is None

    def send(self, channel: Channel, payload: dict[str, Any]) -> None:
        from api.wechat import call_wechat_raw

        if channel == Channel.OFFICIAL_ACCOUNT:
            client = self.official_account
            assert client is not None
            mini_program = {"appid": self.settings.wechat_miniapp_id, "pagepath": payload["page"]}
            call_wechat_raw(
                client,
                lambda: client.message.send_template(
                    payload["touser"],
                    payload["template_id"],
                    payload["data"],
                    mini_program=mini_program if payload.get("page") and self.settings.wechat_miniapp_id else None,
                ),
            )
        else:
            client = self.miniprogram
            assert client is not None
            call_wechat_raw(
                client,
                lambda: client.wxa.send_subscribe_message(
                    payload["touser"], payload["template_id"], payload["data"], page=payload.get("page")
                ),
            )


@dataclass
class _ChannelResult:
    outcome: AttemptOutcome
    errcode: int | None = None
    errmsg: str | None = None
    payload: dict[str, Any] | None = None
    refund_credit: SubscriptionCredit | None = None


def _try_channel(
    session: Session, senders: WechatSenders, message: Notification, entry: MessageKind, channel: Channel
) -> _ChannelResult:
    user = message.user
    template = template_id(entry, channel, senders.settings.wechat_template_ids)
    if template is None:
        return _ChannelResult(AttemptOutcome.SKIPPED, errmsg="no template for this channel")
    openid = user.wechat_oa_openid if channel == Channel.OFFICIAL_ACCOUNT else user.wechat_openid
    if not openid:
        reason = "not following the Official Account" if channel == Channel.OFFICIAL_ACCOUNT else "no WeChat login"
        return _ChannelResult(AttemptOutcome.SKIPPED, errmsg=reason)
    credit = None
    if channel == Channel.SUBSCRIBE:
        credit = session.scalar(
            select(SubscriptionCredit)
            .where(SubscriptionCredit.user_id == user.id, SubscriptionCredit.template_id == template)
            .with_for_update()
        )
        if credit is None or credit.credits <= 0:
            return _ChannelResult(AttemptOutcome.SKIPPED, errmsg="no subscription credit")
        credit.credits -= 1
    payload = {
        "touser": openid,
        "template_id": template,
        "page": message.page,
        "data": template_data(entry, channel, message.context),
    }
    if senders.is_sandbox(channel):
        return _ChannelResult(AttemptOutcome.SENT, errmsg="sandbox: recorded, not sent", payload=payload)
    try:
        senders.send(channel, payload)
    except WechatCallError as exc:
        permanent = exc.errcode in PERMANENT_ERRCODES
        if credit is not None and exc.errcode == 43101:
            credit.credits = 0  # WeChat says there is no subscription left: our count was wrong
        elif credit is not None and not permanent:
            credit.credits += 1  # nothing was sent: the credit is still good
        outcome = AttemptOutcome.REFUSED if permanent else AttemptOutcome.RETRY
        return _ChannelResult(outcome, exc.errcode, exc.errmsg[:255], payload)
    return _ChannelResult(AttemptOutcome.SENT, 0, "ok", payload)


def retry_delay(attempt: int, settings: Settings) -> float:
    """Exponential backoff with jitter: about base·2^(n-1) seconds, at most an hour."""
    ceiling = min(3600.0, settings.notification_retry_base_seconds * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def deliver(notification_id: uuid.UUID, settings: Settings, senders: WechatSenders) -> DeliveryStatus | None:
    """Deliver one outbox row if it is due. Returns its new status, or None when there was nothing to do
    (already delivered, not due yet, or being delivered by another worker right now)."""
    session = db.new_session()
    try:
        with session.begin():
            message = session.scalar(
                select(Notification)
                .where(Notification.id == notification_id, Notification.status == DeliveryStatus.PENDING)
                .with_for_update(of=Notification, skip_locked=True)
            )
            now = utcnow()
            if message is None or (message.next_attempt_at is not None and message.next_attempt_at > now):
                return None
            entry = CATALOGUE.get(message.kind)
            message.attempt_count += 1
            transient = False
            for channel in entry.channels if entry else ():
                result = _try_channel(session, senders, message, entry, channel)
                sandboxed = result.outcome == AttemptOutcome.SENT and senders.is_sandbox(channel)
                session.add(
                    DeliveryAttempt(
                        notification_id=message.id,
                        channel=Channel.SANDBOX if sandboxed else channel,
                        outcome=result.outcome,
                        errcode=result.errcode,
                        errmsg=result.errmsg,
                        payload=result.payload if sandboxed or result.outcome != AttemptOutcome.SKIPPED else None,
                        attempted_at=now,
                    )
                )
                if result.outcome == AttemptOutcome.SENT:
                    message.status = DeliveryStatus.SENT
                    message.channel = Channel.SANDBOX if sandboxed else channel
                    message.sent_at = now
                    message.next_attempt_at = None
                    return message.status
                transient = transient or result.outcome == AttemptOutcome.RETRY
            if transient and message.attempt_count < settings.notification_max_attempts:
                delay = retry_delay(message.attempt_count, settings)
                message.next_attempt_at = now + timedelta(seconds=delay)
                session.info["retry_in"] = delay
                return message.status
            message.status = DeliveryStatus.FAILED if transient else DeliveryStatus.INBOX_ONLY
            message.next_attempt_at = None
            return message.status
    finally:
        delay = session.info.pop("retry_in", None)
        session.close()
        if delay is not None:
            _enqueue(notification_id, countdown=delay)


def sweep_due(grace_seconds: int = 15, now: datetime | None = None) -> int:
    """Hand every due, undelivered row to the workers again; returns how many were enqueued.

    A row is due when its next attempt time has passed by `grace_seconds` (so a row committed a moment
    ago, whose own task is on its way, is not doubled). Doubling is harmless anyway: `deliver` locks.
    """
    cutoff = (now or utcnow()) - timedelta(seconds=grace_seconds)
    ids = db.session.scalars(
        select(Notification.id)
        .where(Notification.status == DeliveryStatus.PENDING, Notification.next_attempt_at <= cutoff)
        .order_by(Notification.next_attempt_at)
        .limit(SWEEP_BATCH)
    ).all()
    for notification_id in ids:
        _enqueue(notification_id)
    return len(ids)


# ------------------------------------------------------------------------------------------------
# Subscriptions and the inbox
# ------------------------------------------------------------------------------------------------


def subscribe_template_ids(settings: Settings) -> set[str]:
    return {
        tid
        for entry in CATALOGUE.values()
        if (tid := template_id(entry, Channel.SUBSCRIBE, settings.wechat_template_ids)) is not None
    }


def record_subscriptions(user: User, answers: dict[str, str], settings: Settings) -> dict[str, int]:
    """Count what the resident accepted in `wx.requestSubscribeMessage`: one credit per 'accept'.

    'reject', 'ban' and 'filter' add nothing (they do not take back credits already granted: WeChat
    still honours those). Unknown template ids are refused so a typo does not go unnoticed.
    """
    known = subscribe_template_ids(settings)
    unknown = sorted(t for t in answers if t not in known)
    if unknown:
        raise ApiError("validation_failed", errors={t: ["unknown subscribe template id"] for t in unknown})
    for tid, answer in answers.items():
        if answer != "accept":
            continue
        credit = db.session.scalar(
            select(SubscriptionCredit)
            .where(SubscriptionCredit.user_id == user.id, SubscriptionCredit.template_id == tid)
            .with_for_update()
        )
        if credit is None:
            credit = SubscriptionCredit(user_id=user.id, template_id=tid, credits=0)
            db.session.add(credit)
        credit.credits = min(MAX_CREDITS_PER_TEMPLATE, credit.credits + 1)
    db.session.flush()
    return subscription_credits(user, settings)


def subscription_credits(user: User, settings: Settings) -> dict[str, int]:
    counts = dict.fromkeys(sorted(subscribe_template_ids(settings)), 0)
    rows = db.session.execute(
        select(SubscriptionCredit.template_id, SubscriptionCredit.credits).where(SubscriptionCredit.user_id == user.id)
    )
    for tid, credits in rows:
        if tid in counts:
            counts[tid] = credits
    return counts


def inbox(user: User, unread_only: bool = False) -> Select[tuple[Notification]]:
    stmt = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return stmt


def unread_count(user: User) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
    )


def mark_read(user: User, notification_id: uuid.UUID) -> Notification:
    message = db.session.get(Notification, notification_id)
    if message is None or message.user_id != user.id:
        raise NotFound()
    if message.read_at is None:
        message.read_at = utcnow()
    return message


def mark_all_read(user: User) -> int:
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    return result.rowcount or 0


def outbox_in_scope(staff: User, status: DeliveryStatus | None, user_id: uuid.UUID | None) -> Select:
    """Messages a staff member may inspect: to people with a household in their area (an admin
    without an area sees all)."""
    stmt = select(Notification)
    if staff.staff_area is not None:
        in_area = (
            select(HouseholdMember.id)
            .join(Room, Room.id == HouseholdMember.room_id)
            .join(Area, Area.id == Room.building_id)
            .where(
                HouseholdMember.user_id == Notification.user_id,
                Area.path.startswith(staff.staff_area.path, autoescape=True),
            )
        )
        stmt = stmt.where(exists(in_area))
    elif not staff.has_role(Role.ADMIN):
        stmt = stmt.where(False)
    if status is not None:
        stmt = stmt.where(Notification.status == status)
    if user_id is not None:
        stmt = stmt.where(Notification.user_id == user_id)
    return stmt
