"""Every message to a person goes through here.

`notify(user, kind, context, subject_path=...)` writes an outbox row in the caller's transaction: if that
transaction rolls back, nothing is sent; once it commits, the row is handed to a worker (`deliver`), and a
beat job (`sweep_due`) hands it over again if the broker lost it or a worker died. `deliver` tries the
kind's channels in order (Official Account template message, mini-program subscribe message), retries
transient WeChat failures with exponential backoff and jitter, and gives up on a channel that will never
work. Each WeChat call is recorded as in flight before it is made and its answer right after, with no lock
held in between: the row is leased meanwhile, so a row enqueued twice is sent once, and a worker killed
mid-call leaves a message that is sent again after the lease — a duplicate at worst, never a loss. Every
message is in the person's in-app inbox whatever happens on WeChat.

Staff see the outbox by what a message is about (`subject_path`, the area path of its subject), not by
where its recipient lives (`outbox_in_scope`).
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

from sqlalchemy import Select, and_, func, insert, or_, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from api import scope
from api.accounts.models import User
from api.config import Settings
from api.db import db, new_id, utcnow
from api.errors import ApiError, NotFound
from api.jobs import after_commit, enqueue
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
DELIVER_TASK = "notifications.deliver"
# Alarms (critical messages: a smoke detector, a fall) are delivered by a task of their own, which
# `api.jobs.ROUTES` sends to the `alerts` queue: they never wait behind thousands of ordinary messages.
DELIVER_ALARM_TASK = "notifications.deliver_alarm"
ALARM_SWEEP_GRACE_SECONDS = 3


def deliver_task(urgency: Urgency) -> str:
    """The task that delivers a message of this urgency (and so its queue)."""
    return DELIVER_ALARM_TASK if urgency == Urgency.CRITICAL else DELIVER_TASK


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
    subject_path: str | None,
    urgency: Urgency | None = None,
    dedupe_key: str | None = None,
) -> Notification:
    """Queue a message to `user` in the current transaction; delivered only if it commits.

    `subject_path` is the area path of what the message is about (`Area.path` of the alert's building, the
    case's area, the event's area, the room's building): staff of that area see the message. Required, so
    that every caller decides; None for a message about no place (an account matter), which only the whole
    subdistrict's staff and admins see.

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
        subject_path=subject_path or None,
        status=DeliveryStatus.PENDING,
        attempt_count=0,
        next_attempt_at=now,
        created_at=now,
    )
    # No flush: the id is ours already, and an alarm storm notifying thousands in one transaction then
    # writes them in a few multi-row INSERTs at commit instead of one round trip each.
    db.session.add(message)
    after_commit(deliver_task(message.urgency), str(message.id))
    return message


@dataclass
class Outgoing:
    """One message of a `notify_many` call: to whom, of which kind, saying what, about which place."""

    user_id: uuid.UUID
    kind: str
    context: dict[str, Any]
    subject_path: str | None
    urgency: Urgency | None = None
    next_attempt_at: datetime | None = None  # later than now: held (quiet hours)
    id: uuid.UUID | None = None  # chosen by the caller when it must name the row before the INSERT


def notify_many(messages: list[Outgoing]) -> list[uuid.UUID]:
    """`notify` for many messages at once (an alarm storm opening a thousand alerts): one multi-row INSERT in
    the caller's transaction instead of an ORM object each, every row handed to a worker once it commits.
    Returns the new rows' ids, in order. No `dedupe_key`: a step that may be taken twice uses `notify`."""
    if not messages:
        return []
    now = utcnow()
    rows = []
    for outgoing in messages:
        entry = CATALOGUE.get(outgoing.kind)
        if entry is None:
            raise ValueError(f"unknown message kind {outgoing.kind!r}: add it to api.notifications.catalogue")
        ctx = _jsonable(outgoing.context)
        rows.append(
            {
                "id": outgoing.id or new_id(),
                "user_id": outgoing.user_id,
                "kind": outgoing.kind,
                "urgency": outgoing.urgency or entry.urgency,
                "title": render(entry.title, ctx)[:64],
                "body": render(entry.body, ctx),
                "page": render(entry.page, ctx) if entry.page else None,
                "context": ctx,
                "dedupe_key": None,
                "subject_path": outgoing.subject_path or None,
                "status": DeliveryStatus.PENDING,
                "attempt_count": 0,
                "next_attempt_at": outgoing.next_attempt_at or now,
                "created_at": now,
            }
        )
    db.session.execute(insert(Notification), rows)
    for row in rows:
        after_commit(deliver_task(row["urgency"]), str(row["id"]))
    return [row["id"] for row in rows]


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


def delivery_lease(settings: Settings, urgency: Urgency | None = None) -> timedelta:
    """How long a delivery holds a row while WeChat has the message: longer than one channel's call can take
    (an access-token fetch, the send, a token refresh and the send again, each up to a connect and a read
    timeout), so neither a second worker nor the sweep takes the row while the call runs.

    An alarm's lease is only one send's worth (a read timeout and a token fetch): if its deliverer dies
    mid-send, the alarm sweep (every few seconds) sends it again within seconds. The price is a possible
    duplicate when WeChat is slower than that but the deliverer alive — for an alarm, better than a delay."""
    if urgency == Urgency.CRITICAL:
        return timedelta(seconds=2 * settings.wechat_timeout_seconds + 2)
    return timedelta(seconds=8 * settings.wechat_timeout_seconds + 30)


@dataclass
class _Prepared:
    """A channel made ready for a message: the payload to send, or why the channel does not apply."""

    payload: dict[str, Any] | None = None
    skip_reason: str | None = None
    credit_template: str | None = None  # the subscribe template whose credit this send spent


@dataclass
class _InFlight:
    """A channel call committed as in flight: what the call needs, and what recording its answer needs."""

    attempt_id: uuid.UUID
    channel: Channel
    position: int  # of the channel in the kind's list: a refusal moves on to the next one
    payload: dict[str, Any]
    credit_template: str | None
    transient: bool  # an earlier channel of this delivery asked to be tried again later


@dataclass
class _Answer:
    outcome: AttemptOutcome
    errcode: int | None
    errmsg: str


def _prepare(
    session: Session, senders: WechatSenders, message: Notification, entry: MessageKind, channel: Channel
) -> _Prepared:
    user = message.user
    template = template_id(entry, channel, senders.settings.wechat_template_ids)
    if template is None:
        return _Prepared(skip_reason="no template for this channel")
    openid = user.wechat_oa_openid if channel == Channel.OFFICIAL_ACCOUNT else user.wechat_openid
    if not openid:
        reason = "not following the Official Account" if channel == Channel.OFFICIAL_ACCOUNT else "no WeChat login"
        return _Prepared(skip_reason=reason)
    credit_template = None
    if channel == Channel.SUBSCRIBE:
        # Not flushing first: the attempts recorded so far go out with the rest at commit, in one statement.
        with session.no_autoflush:
            credit = session.scalar(
                select(SubscriptionCredit)
                .where(SubscriptionCredit.user_id == user.id, SubscriptionCredit.template_id == template)
                .with_for_update()
            )
        if credit is None or credit.credits <= 0:
            return _Prepared(skip_reason="no subscription credit")
        # Spent in the same commit as the in-flight attempt: a deliverer that dies during the call leaves it
        # spent, as WeChat may have used it; an answer that says nothing was sent gives it back.
        credit.credits -= 1
        credit_template = template
    payload = {
        "touser": openid,
        "template_id": template,
        "page": message.page,
        "data": template_data(entry, channel, message.context),
    }
    return _Prepared(payload=payload, credit_template=credit_template)


def _attempt(
    message: Notification,
    channel: Channel,
    outcome: AttemptOutcome,
    payload: dict[str, Any] | None = None,
    errmsg: str | None = None,
) -> DeliveryAttempt:
    # Its own id and time now, not at flush: attempts are listed in the order they were made.
    return DeliveryAttempt(
        id=new_id(),
        notification_id=message.id,
        channel=channel,
        outcome=outcome,
        payload=payload,
        errmsg=errmsg,
        attempted_at=utcnow(),
    )


def _sent(message: Notification, channel: Channel) -> DeliveryStatus:
    message.status = DeliveryStatus.SENT
    message.channel = channel
    message.sent_at = utcnow()
    message.next_attempt_at = None
    return message.status


def _next_channel(
    session: Session,
    settings: Settings,
    senders: WechatSenders,
    message: Notification,
    start: int,
    transient: bool,
) -> _InFlight | DeliveryStatus:
    """Try the kind's channels from `start` on: record the ones that do not apply, and commit the first that
    does as in flight (the caller sends it after the commit). With none left, settle the row: due again
    later after a transient failure, else inbox only (or failed, once the tries are used up)."""
    entry = CATALOGUE.get(message.kind)
    channels = entry.channels if entry else ()
    for position in range(start, len(channels)):
        assert entry is not None
        channel = channels[position]
        prepared = _prepare(session, senders, message, entry, channel)
        if prepared.payload is None:
            session.add(_attempt(message, channel, AttemptOutcome.SKIPPED, errmsg=prepared.skip_reason))
            continue
        if senders.is_sandbox(channel):
            recorded = "sandbox: recorded, not sent"
            session.add(_attempt(message, Channel.SANDBOX, AttemptOutcome.SENT, prepared.payload, recorded))
            return _sent(message, Channel.SANDBOX)
        attempt = _attempt(message, channel, AttemptOutcome.SENDING, prepared.payload)
        session.add(attempt)
        message.next_attempt_at = utcnow() + delivery_lease(settings, message.urgency)
        return _InFlight(attempt.id, channel, position, prepared.payload, prepared.credit_template, transient)
    if transient and message.attempt_count < settings.notification_max_attempts:
        delay = retry_delay(message.attempt_count, settings)
        message.next_attempt_at = utcnow() + timedelta(seconds=delay)
        session.info["retry_in"] = (delay, deliver_task(message.urgency))
        return message.status
    message.status = DeliveryStatus.FAILED if transient else DeliveryStatus.INBOX_ONLY
    message.next_attempt_at = None
    return message.status


# A delivery reads the recipient's openids, never their roles: loading those too was a query more per message.
_RECIPIENT = joinedload(Notification.user).lazyload(User.role_rows)


def _claim(
    session: Session, notification_id: uuid.UUID, settings: Settings, senders: WechatSenders
) -> _InFlight | DeliveryStatus | None:
    message = session.scalar(
        select(Notification)
        .where(Notification.id == notification_id, Notification.status == DeliveryStatus.PENDING)
        .with_for_update(of=Notification, skip_locked=True)
        .options(_RECIPIENT)
        .execution_options(populate_existing=True)
    )
    if message is None or (message.next_attempt_at is not None and message.next_attempt_at > utcnow()):
        return None
    if message.attempt_count > 0:
        # Still in flight after its lease: the deliverer died between handing the message to WeChat and
        # recording the answer. WeChat may have taken it; it is sent again below. (An attempt is only ever
        # begun in the commit that counts it, so a row never tried has none.)
        session.execute(
            update(DeliveryAttempt)
            .where(DeliveryAttempt.notification_id == message.id, DeliveryAttempt.outcome == AttemptOutcome.SENDING)
            .values(outcome=AttemptOutcome.UNKNOWN, errmsg="no answer recorded: the deliverer stopped during the call")
            .execution_options(synchronize_session=False)
        )
    if message.attempt_count >= settings.notification_max_attempts:
        # Only tries that never recorded an answer end here (a deliverer killed mid-call, again and again):
        # stop sending possible duplicates. The inbox has the message.
        message.status = DeliveryStatus.FAILED
        message.next_attempt_at = None
        return message.status
    message.attempt_count += 1
    return _next_channel(session, settings, senders, message, 0, transient=False)


def _call(senders: WechatSenders, step: _InFlight) -> _Answer:
    """The WeChat call itself, with no transaction open and no row locked."""
    try:
        senders.send(step.channel, step.payload)
    except WechatCallError as exc:
        outcome = AttemptOutcome.REFUSED if exc.errcode in PERMANENT_ERRCODES else AttemptOutcome.RETRY
        return _Answer(outcome, exc.errcode, exc.errmsg[:255])
    except Exception as exc:
        # Not WeChat's answer but our side failing (the token store unreachable, a bug): tried again later
        # like a busy WeChat, rather than leaving the row to wait out its lease.
        log.exception("sending notification attempt %s failed", step.attempt_id)
        return _Answer(AttemptOutcome.RETRY, None, f"error: {type(exc).__name__}"[:255])
    return _Answer(AttemptOutcome.SENT, 0, "ok")


def _settle(
    session: Session,
    notification_id: uuid.UUID,
    step: _InFlight,
    answer: _Answer,
    settings: Settings,
    senders: WechatSenders,
) -> _InFlight | DeliveryStatus | None:
    """Record WeChat's answer to an in-flight attempt, then move the row on: sent, the next channel, or later."""
    message = session.scalar(
        select(Notification)
        .where(Notification.id == notification_id)
        .with_for_update(of=Notification)
        .options(_RECIPIENT)
        .execution_options(populate_existing=True)
    )
    attempt = session.get(DeliveryAttempt, step.attempt_id, populate_existing=True)
    if message is None or attempt is None:
        return None  # erased meanwhile (the person deleted their account)
    # Ours unless our lease ran out and another delivery took the row over (it marked this attempt unknown).
    ours = attempt.outcome == AttemptOutcome.SENDING and message.status == DeliveryStatus.PENDING
    attempt.outcome, attempt.errcode, attempt.errmsg = answer.outcome, answer.errcode, answer.errmsg
    if step.credit_template is not None and answer.outcome != AttemptOutcome.SENT:
        credit = session.get(
            SubscriptionCredit, (message.user_id, step.credit_template), with_for_update=True, populate_existing=True
        )
        if credit is not None and answer.errcode == 43101:
            credit.credits = 0  # WeChat says there is no subscription left: our count was wrong
        elif credit is not None and answer.outcome == AttemptOutcome.RETRY:
            credit.credits += 1  # nothing was sent: the credit is still good
    if answer.outcome == AttemptOutcome.SENT and message.status == DeliveryStatus.PENDING:
        return _sent(message, step.channel)  # arrived: whoever holds the row now has nothing left to do
    if not ours:
        return None
    transient = step.transient or answer.outcome == AttemptOutcome.RETRY
    return _next_channel(session, settings, senders, message, step.position + 1, transient)


def retry_delay(attempt: int, settings: Settings) -> float:
    """Exponential backoff with jitter: about base·2^(n-1) seconds, at most an hour."""
    ceiling = min(3600.0, settings.notification_retry_base_seconds * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def deliver(notification_id: uuid.UUID, settings: Settings, senders: WechatSenders) -> DeliveryStatus | None:
    """Deliver one outbox row if it is due. Returns its new status, or None when there was nothing to do
    (already delivered, not due yet, or being delivered by another worker right now).

    Each WeChat call sits between two short transactions: the first records the attempt as in flight (the
    try counted, a subscribe credit spent, the row leased for `delivery_lease`), the second records the
    answer. The call itself holds no lock and no transaction. A deliverer that dies during the call leaves
    the row leased and pending; once the lease is over the sweep sends it again — a duplicate at worst,
    never a loss.
    """
    session = db.new_session()
    try:
        with session.begin():
            step = _claim(session, notification_id, settings, senders)
        while isinstance(step, _InFlight):
            answer = _call(senders, step)
            with session.begin():
                step = _settle(session, notification_id, step, answer, settings, senders)
        return step
    finally:
        retry = session.info.pop("retry_in", None)
        session.close()
        if retry is not None:
            delay, task_name = retry
            enqueue(task_name, str(notification_id), countdown=delay)


def sweep_due(grace_seconds: int = 15, now: datetime | None = None) -> int:
    """Hand every due, undelivered row to the workers again; returns how many were enqueued.

    A row is due when its next attempt time has passed by `grace_seconds` (so a row committed a moment
    ago, whose own task is on its way, is not doubled). Doubling is harmless anyway: `deliver` claims the
    row under a lock and a lease. A row whose deliverer died during a WeChat call is due once its lease is
    over: it is sent again.
    """
    cutoff = (now or utcnow()) - timedelta(seconds=grace_seconds)
    rows = db.session.execute(
        select(Notification.id, Notification.urgency)
        .where(Notification.status == DeliveryStatus.PENDING, Notification.next_attempt_at <= cutoff)
        .order_by(Notification.next_attempt_at)
        .limit(SWEEP_BATCH)
    ).all()
    for notification_id, urgency in rows:
        enqueue(deliver_task(urgency), str(notification_id))
    return len(rows)


def sweep_due_alarms(grace_seconds: int = ALARM_SWEEP_GRACE_SECONDS, now: datetime | None = None) -> int:
    """`sweep_due` for alarms only, run every few seconds on the `alerts` queue: an alarm whose deliverer
    died mid-send (its short lease over) or whose task the broker lost is sent again within seconds, not at
    the next minute's sweep."""
    now = now or utcnow()
    ids = db.session.scalars(
        select(Notification.id)
        .where(
            Notification.status == DeliveryStatus.PENDING,
            Notification.urgency == Urgency.CRITICAL,
            # A row never tried yet has its own task on the way: give it the grace. A row whose lease is over
            # has nobody else coming for it.
            or_(
                and_(
                    Notification.attempt_count == 0,
                    Notification.next_attempt_at <= now - timedelta(seconds=grace_seconds),
                ),
                and_(Notification.attempt_count > 0, Notification.next_attempt_at <= now),
            ),
        )
        .order_by(Notification.next_attempt_at)
        .limit(SWEEP_BATCH)
    ).all()
    for notification_id in ids:
        enqueue(DELIVER_ALARM_TASK, str(notification_id))
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
    """Messages a staff member may inspect: those about something inside their area, whoever received
    them (a resident of two committees is seen by each only in that committee's affairs). Messages about
    no place are for the whole subdistrict's staff and admins, not for committee staff (`api.scope`)."""
    # Each message shows its delivery attempts: a page's in one statement, not one per message.
    stmt = scope.visible(staff, Notification).options(selectinload(Notification.attempts))
    if status is not None:
        stmt = stmt.where(Notification.status == status)
    if user_id is not None:
        stmt = stmt.where(Notification.user_id == user_id)
    return stmt
