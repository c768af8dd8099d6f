"""Messages reach people: once, through the channel they can receive, and always in the inbox.

The sandbox tests run the embedded default (no WeChat credentials: what would be sent is recorded);
the live tests deliver through real wechatpy HTTP calls to the local fake WeChat API, tasks eager.
The real worker on Redis is in tests/test_notifications_worker.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from api import create_app
from api.accounts.models import Role, User
from api.accounts.services import create_staff
from api.config import Settings
from api.db import db, utcnow
from api.extensions import celery, store
from api.jobs import forget_pending
from api.notifications import services
from api.notifications.catalogue import CATALOGUE, fit_value, template_data
from api.notifications.models import (
    AttemptOutcome,
    Channel,
    DeliveryStatus,
    Notification,
    SubscriptionCredit,
    Urgency,
)
from tests.conftest import STAFF_PASSWORD, bearer, staff_login, wechat_login
from tests.fake_wechat import FakeWechat
from tests.test_read_path import counting_statements

HOUSEHOLD_TEMPLATE = "linli-sub-household-decided"
ALERT_OA_TEMPLATE = "linli-oa-device-alert"
ALERT_SUB_TEMPLATE = "linli-sub-device-alert"


def decide(client, world, resident, staff, *, approve=True, room="KJ01/101"):
    request_id = client.post(
        "/api/v1/me/household-requests",
        json={"room_id": str(world.room(room).id), "relation": "owner"},
        headers=resident["headers"],
    ).get_json()["id"]
    if approve:
        url, body = f"/api/v1/admin/household-requests/{request_id}/approve", None
    else:
        url, body = f"/api/v1/admin/household-requests/{request_id}/reject", {"reason": "产证姓名与申请人不符"}
    response = client.post(url, json=body, headers=staff["headers"])
    assert response.status_code == 200, response.get_json()
    return request_id


def inbox(client, who):
    return client.get("/api/v1/me/messages", headers=who["headers"]).get_json()["items"]


# ----------------------------------------------------------------------------------------------------
# The inbox and subscriptions (embedded default: WeChat sandbox)
# ----------------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_an_approval_lands_in_the_residents_inbox(client, world, resident, kj01_staff):
    decide(client, world, resident, kj01_staff)

    messages = inbox(client, resident)
    assert [m["title"] for m in messages] == ["房屋绑定审核通过"]
    assert "1号楼101室" in messages[0]["body"]
    assert messages[0]["page"] == "pages/me/households"
    assert messages[0]["read_at"] is None
    # No subscription credit was granted, and no Official Account follow: the inbox is the channel.
    assert messages[0]["delivery_status"] == "inbox_only"


def test_a_rejection_tells_the_reason(client, world, resident, kj01_staff):
    decide(client, world, resident, kj01_staff, approve=False)

    message = inbox(client, resident)[0]
    assert message["title"] == "房屋绑定审核未通过"
    assert "产证姓名与申请人不符" in message["body"]


def test_unread_count_and_marking_read(client, world, resident, kj01_staff):
    decide(client, world, resident, kj01_staff)
    count = client.get("/api/v1/me/messages/unread-count", headers=resident["headers"]).get_json()
    assert count == {"unread": 1}

    message_id = inbox(client, resident)[0]["id"]
    read = client.post(f"/api/v1/me/messages/{message_id}/read", headers=resident["headers"])
    assert read.status_code == 200 and read.get_json()["read_at"] is not None
    assert client.get("/api/v1/me/messages/unread-count", headers=resident["headers"]).get_json() == {"unread": 0}
    unread = client.get("/api/v1/me/messages?unread_only=true", headers=resident["headers"]).get_json()
    assert unread["items"] == []


def test_read_all(client, world, resident, kj01_staff):
    decide(client, world, resident, kj01_staff)
    decide_other = client.post(
        "/api/v1/me/household-requests",
        json={"room_id": str(world.room("KJ01/102").id), "relation": "tenant"},
        headers=resident["headers"],
    ).get_json()["id"]
    client.post(f"/api/v1/admin/household-requests/{decide_other}/approve", headers=kj01_staff["headers"])

    marked = client.post("/api/v1/me/messages/read-all", headers=resident["headers"]).get_json()
    assert marked == {"marked": 2}
    assert client.get("/api/v1/me/messages/unread-count", headers=resident["headers"]).get_json() == {"unread": 0}


def test_nobody_else_can_read_or_mark_my_messages(client, world, resident, kj01_staff):
    decide(client, world, resident, kj01_staff)
    message_id = inbox(client, resident)[0]["id"]
    other = wechat_login(client, "lisi#1")

    assert inbox(client, {"headers": bearer(other["access_token"])}) == []
    response = client.post(f"/api/v1/me/messages/{message_id}/read", headers=bearer(other["access_token"]))
    assert response.status_code == 404


def test_accepted_subscriptions_become_credits(client, world, resident):
    answer = {HOUSEHOLD_TEMPLATE: "accept", ALERT_SUB_TEMPLATE: "reject", "errMsg": "requestSubscribeMessage:ok"}
    response = client.post("/api/v1/me/subscriptions", json=answer, headers=resident["headers"])

    assert response.status_code == 200
    credits = response.get_json()["credits"]
    assert credits[HOUSEHOLD_TEMPLATE] == 1 and credits[ALERT_SUB_TEMPLATE] == 0
    client.post("/api/v1/me/subscriptions", json={HOUSEHOLD_TEMPLATE: "accept"}, headers=resident["headers"])
    again = client.get("/api/v1/me/subscriptions", headers=resident["headers"]).get_json()["credits"]
    assert again[HOUSEHOLD_TEMPLATE] == 2


def test_the_mini_program_learns_the_deployments_template_ids(client, world, resident, settings):
    settings.wechat_template_ids = {"household_request_decided.subscribe": "real-id-from-mp-console"}
    kinds = client.get("/api/v1/me/message-templates", headers=resident["headers"]).get_json()["kinds"]

    assert kinds["household_request_decided"]["subscribe"]["template_id"] == "real-id-from-mp-console"
    assert kinds["device_alert"]["official_account"]["template_id"] == ALERT_OA_TEMPLATE
    answer = {"real-id-from-mp-console": "accept"}
    credits = client.post("/api/v1/me/subscriptions", json=answer, headers=resident["headers"]).get_json()["credits"]
    assert credits["real-id-from-mp-console"] == 1


@pytest.mark.parametrize("answer", [{"no-such-template": "accept"}, {HOUSEHOLD_TEMPLATE: "maybe"}])
def test_a_wrong_subscription_report_is_refused(client, world, resident, answer):
    response = client.post("/api/v1/me/subscriptions", json=answer, headers=resident["headers"])
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == list(answer)


@pytest.mark.smoke
def test_with_a_credit_the_sandbox_records_the_subscribe_message_and_spends_the_credit(
    client, world, resident, kj01_staff, admin
):
    client.post("/api/v1/me/subscriptions", json={HOUSEHOLD_TEMPLATE: "accept"}, headers=resident["headers"])
    decide(client, world, resident, kj01_staff)

    message = inbox(client, resident)[0]
    assert message["delivery_status"] == "sent" and message["delivered_via"] == "sandbox"
    credits = client.get("/api/v1/me/subscriptions", headers=resident["headers"]).get_json()["credits"]
    assert credits[HOUSEHOLD_TEMPLATE] == 0

    outbox = client.get("/api/v1/admin/notifications", headers=kj01_staff["headers"]).get_json()["items"]
    attempt = outbox[0]["attempts"][0]
    assert attempt["channel"] == "sandbox" and attempt["outcome"] == "sent"
    assert attempt["payload"]["template_id"] == HOUSEHOLD_TEMPLATE
    assert attempt["payload"]["data"]["phrase2"] == {"value": "通过"}
    assert len(attempt["payload"]["data"]["thing1"]["value"]) <= 20


def test_staff_see_only_messages_to_people_of_their_area(client, world, resident, kj01_staff, kj02_staff, admin):
    decide(client, world, resident, kj01_staff)

    assert len(client.get("/api/v1/admin/notifications", headers=kj01_staff["headers"]).get_json()["items"]) == 1
    assert client.get("/api/v1/admin/notifications", headers=kj02_staff["headers"]).get_json()["items"] == []
    assert len(client.get("/api/v1/admin/notifications", headers=admin["headers"]).get_json()["items"]) == 1
    assert client.get("/api/v1/admin/notifications", headers=resident["headers"]).status_code == 403


@pytest.mark.smoke
def test_staff_see_a_message_only_in_the_committee_it_is_about(client, world, resident, kj01_staff, kj02_staff, admin):
    """张三 has a flat in KJ01 and one in KJ02: KJ01 staff see what concerns the KJ01 flat, not his KJ02
    affairs, though he is a resident of theirs."""
    decide(client, world, resident, kj01_staff, room="KJ01/101")
    decide(client, world, resident, kj02_staff, room="KJ02/101")  # a KJ02 matter of a KJ01 resident
    committee_of = {m["id"]: "KJ02" if "KJ02" in m["body"] else "KJ01" for m in inbox(client, resident)}

    def outbox(staff, query=""):
        items = client.get(f"/api/v1/admin/notifications{query}", headers=staff["headers"]).get_json()["items"]
        return sorted(committee_of[m["id"]] for m in items)

    assert outbox(kj01_staff) == ["KJ01"]
    assert outbox(kj02_staff) == ["KJ02"]
    assert outbox(admin) == ["KJ01", "KJ02"]
    # Asking for the person by id does not widen it.
    assert outbox(kj01_staff, f"?user_id={resident['user']['id']}") == ["KJ01"]


def test_a_message_about_no_place_is_for_the_subdistricts_staff_and_admins_only(app, client, world, kj01_staff, admin):
    create_staff("kj-staff", STAFF_PASSWORD, Role.STAFF, "KJ")
    db.session.commit()
    subdistrict_staff = {"headers": bearer(staff_login(client, "kj-staff")["access_token"])}
    with app.app_context():
        services.notify(
            world.users["kj01"], "notice", {"title": "账号安全提醒", "body": "密码已修改"}, subject_path=None
        )
        db.session.commit()

    def outbox(staff):
        return client.get("/api/v1/admin/notifications", headers=staff["headers"]).get_json()["items"]

    assert outbox(kj01_staff) == []
    assert [m["title"] for m in outbox(subdistrict_staff)] == ["账号安全提醒"]
    assert [m["title"] for m in outbox(admin)] == ["账号安全提醒"]


def test_a_rolled_back_transaction_sends_nothing(app, world):
    user = world.users["kj01"]
    with app.app_context():
        services.notify(user, "notice", {"title": "停水通知", "body": "明日停水"}, subject_path=None)
        db.session.rollback()
        db.session.commit()  # a later commit of the same session must not send the forgotten row
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0


def test_the_same_domain_event_notifies_once(app, world):
    user = world.users["kj01"]
    with app.app_context():
        first = services.notify(user, "notice", {"title": "a", "body": "b"}, subject_path=None, dedupe_key="drill:1")
        second = services.notify(user, "notice", {"title": "a", "body": "b"}, subject_path=None, dedupe_key="drill:1")
        db.session.commit()
        assert first.id == second.id
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 1


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("thing1", "控江路街道凤城三村居委会凤城三村南块12号楼302室", "控江路街道凤城三村居委会凤城三村南块1…"),
        ("thing2", "", "-"),
        ("phrase3", "已经处理完毕", "已经处理…"),
        ("character_string4", "订单-2026/11/23 编号：A12", "-2026/11/23A12"),
        ("number5", "共 12 人", "12"),
        ("time6", "2026-11-23T10:05:00+00:00", "2026年11月23日 18:05"),
        ("date7", "2026-11-23T18:05:00+00:00", "2026年11月24日"),
        ("keyword1", "老式键名", "老式键名"),
    ],
)
def test_values_are_made_to_fit_wechats_slot_rules(key, value, expected):
    fitted = fit_value(key, value)
    assert fitted == expected
    assert len(fitted) <= {"thing": 20, "phrase": 5, "character_string": 32}.get(key.rstrip("0123456789"), 200)


def test_an_address_too_long_for_its_slot_loses_its_start_and_keeps_the_room():
    address = "控江路街道凤城三村居委会凤城三村南块12号楼302室"
    assert fit_value("thing1", address, address=True) == "…三村居委会凤城三村南块12号楼302室"
    assert fit_value("thing1", "凤城三村南块12号楼302室", address=True) == "凤城三村南块12号楼302室"  # fits: untouched


@pytest.mark.parametrize(
    ("kind", "channel", "slot"),
    [
        ("device_alert", Channel.OFFICIAL_ACCOUNT, "thing5"),
        ("device_alert", Channel.SUBSCRIBE, "thing4"),
        ("household_request_decided", Channel.SUBSCRIBE, "thing1"),
    ],
)
def test_every_address_slot_of_the_catalogue_keeps_the_room(kind, channel, slot):
    context = {"address": "控江二村居委会控江二村东块10号楼104室", "result": "通过"}
    data = template_data(CATALOGUE[kind], channel, context)
    assert data[slot]["value"].endswith("10号楼104室") and len(data[slot]["value"]) <= 20


# ----------------------------------------------------------------------------------------------------
# Live delivery through wechatpy to the fake WeChat API
# ----------------------------------------------------------------------------------------------------

MINIAPP = ("wx-test-app", "s3cret")
OA = ("wx-test-oa", "oa-s3cret")
TEMPLATE_SEND = "/cgi-bin/message/template/send"
SUBSCRIBE_SEND = "/cgi-bin/message/subscribe/send"


@pytest.fixture
def fake() -> Iterator[FakeWechat]:
    with FakeWechat(dict([MINIAPP, OA])) as server:
        yield server


@pytest.fixture
def live_app(app: Flask, base_settings: Settings, fake: FakeWechat) -> Iterator[Flask]:
    """The app with both WeChat accounts configured, pointed at the fake; globals restored after."""
    saved_store, saved_flask_app = store.backend, getattr(celery, "flask_app", None)
    settings = base_settings.with_overrides(
        wechat_miniapp_id=MINIAPP[0],
        wechat_miniapp_secret=MINIAPP[1],
        wechat_oa_app_id=OA[0],
        wechat_oa_secret=OA[1],
        wechat_api_base_url=fake.url,
        wechat_timeout_seconds=2,
        notification_retry_base_seconds=1,
    )
    live = create_app(settings)
    with live.app_context():
        senders = services.WechatSenders(settings)
        for client in (senders.official_account, senders.miniprogram):
            client.session.delete(client.access_token_key)
        live.extensions["linli.senders"] = senders
    try:
        yield live
    finally:
        store.backend = saved_store
        celery.flask_app = saved_flask_app  # type: ignore[attr-defined]


def family_member(*, follows: bool = True, credits: int = 0, fake: FakeWechat | None = None) -> User:
    suffix = uuid.uuid4().hex[:8]
    user = User(nickname="王家女儿", wechat_openid=f"o-mini-{suffix}")
    if follows:
        user.wechat_oa_openid = f"o-oa-{suffix}"
    db.session.add(user)
    db.session.flush()
    if credits:
        db.session.add(SubscriptionCredit(user_id=user.id, template_id=ALERT_SUB_TEMPLATE, credits=credits))
        if fake is not None:
            fake.grant_subscription(user.wechat_openid, ALERT_SUB_TEMPLATE, credits)
    db.session.commit()
    return user


ALERT = {
    "alert_id": "a-1",
    "elder_name": "王阿婆",
    "device_type": "烟感",
    "alert_type": "烟雾报警",
    "occurred_at": "2026-11-23T02:14:00+00:00",
    "address": "凤城三村12号楼302室",
}
HOME = "/KJ/KJ01/KJ01-01/KJ01-01-001/"  # the building the alarm is about


def send_alert(live: Flask, user: User, **kwargs: Any) -> Notification:
    with live.app_context():
        message = services.notify(db.session.get(User, user.id), "device_alert", ALERT, subject_path=HOME, **kwargs)
        db.session.commit()  # the commit hands the row to the (eager) worker
        return db.session.get(Notification, message.id)


def reload(message_id: uuid.UUID) -> Notification:
    db.session.expire_all()
    return db.session.get(Notification, message_id)


def deliver_again(live: Flask, message_id: uuid.UUID, *, due: bool = True) -> DeliveryStatus | None:
    if due:
        db.session.execute(
            Notification.__table__.update()
            .where(Notification.id == message_id)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    with live.app_context():
        return services.deliver(message_id, live.extensions["linli.settings"], live.extensions["linli.senders"])


def test_a_device_alert_reaches_a_following_family_member_as_a_template_message(live_app, fake, world):
    user = family_member()
    message = send_alert(live_app, user)

    stored = reload(message.id)
    assert (stored.status, stored.channel) == (DeliveryStatus.SENT, Channel.OFFICIAL_ACCOUNT)
    [sent] = fake.sent_messages
    assert sent["kind"] == "template" and sent["touser"] == user.wechat_oa_openid
    assert sent["template_id"] == ALERT_OA_TEMPLATE
    assert sent["miniprogram"] == {"appid": MINIAPP[0], "pagepath": "pages/alerts/detail?id=a-1"}
    assert sent["data"]["time4"] == {"value": "2026年11月23日 10:14"}
    assert [a.outcome for a in stored.attempts] == [AttemptOutcome.SENT]


def test_delivering_the_same_row_twice_sends_it_once(live_app, fake, world):
    user = family_member()
    message = send_alert(live_app, user)

    assert deliver_again(live_app, message.id) is None
    assert deliver_again(live_app, message.id, due=False) is None
    assert len(fake.sent_messages) == 1


def test_a_delivery_costs_a_fixed_handful_of_statements_whoever_the_recipient_is(live_app, fake, world):
    # An alarm storm hands thousands of these to one worker: each statement more is a family told later.
    following, unreachable = family_member(), family_member(follows=False)
    with live_app.app_context():
        ids = [
            services.notify(db.session.get(User, user.id), "device_alert", ALERT, subject_path=HOME).id
            for user in (following, unreachable)
        ]
        forget_pending(db.session)  # delivered below, one at a time
        db.session.commit()
    counted = []
    for message_id in ids:
        with counting_statements() as seen:
            deliver_again(live_app, message_id, due=False)
        counted.append(len(seen))

    assert [reload(i).status for i in ids] == [DeliveryStatus.SENT, DeliveryStatus.INBOX_ONLY]
    # Sent: claimed (read, count the try, record it in flight), then answered (read both, record both).
    # Unreachable: read, look for a subscription credit, then settle it and say why no channel applied (one
    # statement for both attempts). Neither reads the recipient's roles, nor looks for an earlier try's leftovers.
    assert counted == [7, 4]


def test_without_a_follow_the_subscribe_message_is_used_and_a_credit_spent(live_app, fake, world):
    user = family_member(follows=False, credits=2, fake=fake)
    message = send_alert(live_app, user)

    stored = reload(message.id)
    assert (stored.status, stored.channel) == (DeliveryStatus.SENT, Channel.SUBSCRIBE)
    assert [m["kind"] for m in fake.sent_messages] == ["subscribe"]
    assert fake.sent_messages[0]["page"] == "pages/alerts/detail?id=a-1"
    credit = db.session.get(SubscriptionCredit, (user.id, ALERT_SUB_TEMPLATE))
    assert credit.credits == 1


def test_without_a_credit_no_subscribe_message_is_even_tried(live_app, fake, world):
    user = family_member(follows=False)
    message = send_alert(live_app, user)

    stored = reload(message.id)
    assert stored.status == DeliveryStatus.INBOX_ONLY
    assert fake.calls(SUBSCRIBE_SEND) == [] and fake.calls(TEMPLATE_SEND) == []
    assert {a.errmsg for a in stored.attempts} == {"not following the Official Account", "no subscription credit"}


def test_an_unfollowed_account_falls_back_to_the_subscribe_message(live_app, fake, world):
    user = family_member(credits=1, fake=fake)
    fake.fail_next(TEMPLATE_SEND, 43004)
    message = send_alert(live_app, user)

    stored = reload(message.id)
    assert (stored.status, stored.channel) == (DeliveryStatus.SENT, Channel.SUBSCRIBE)
    assert [(a.channel, a.outcome, a.errcode) for a in stored.attempts] == [
        (Channel.OFFICIAL_ACCOUNT, AttemptOutcome.REFUSED, 43004),
        (Channel.SUBSCRIBE, AttemptOutcome.SENT, 0),
    ]


def test_a_subscription_wechat_does_not_know_zeroes_our_count_and_never_loops(live_app, fake, world):
    user = family_member(follows=False, credits=3)  # we believe in 3 credits; WeChat knows none
    message = send_alert(live_app, user)

    stored = reload(message.id)
    assert stored.status == DeliveryStatus.INBOX_ONLY
    assert stored.attempts[-1].errcode == 43101
    assert db.session.get(SubscriptionCredit, (user.id, ALERT_SUB_TEMPLATE)).credits == 0
    assert deliver_again(live_app, message.id) is None  # nothing left to try


@pytest.mark.parametrize("errcode", [-1, 45009, 45011])
def test_a_busy_or_rate_limited_wechat_is_retried_later_and_then_delivers_once(live_app, fake, world, errcode):
    user = family_member()
    fake.fail_next(TEMPLATE_SEND, errcode)
    message = send_alert(live_app, user)

    waiting = reload(message.id)
    assert waiting.status == DeliveryStatus.PENDING
    assert waiting.next_attempt_at > utcnow()
    assert waiting.attempts[0].outcome == AttemptOutcome.RETRY and waiting.attempts[0].errcode == errcode
    assert deliver_again(live_app, message.id, due=False) is None  # not due yet: nothing happens

    assert deliver_again(live_app, message.id) == DeliveryStatus.SENT
    assert len(fake.sent_messages) == 1
    assert reload(message.id).attempt_count == 2


def test_the_retry_delay_grows_exponentially_with_jitter(live_app):
    settings = live_app.extensions["linli.settings"]
    delays = [services.retry_delay(n, settings) for n in range(1, 8)]
    for n, delay in enumerate(delays, start=1):
        ceiling = settings.notification_retry_base_seconds * 2 ** (n - 1)
        assert ceiling / 2 <= delay <= ceiling
    assert services.retry_delay(30, settings) <= 3600


def test_retries_stop_after_the_limit_and_the_inbox_keeps_the_message(live_app, fake, world):
    user = family_member()
    limit = live_app.extensions["linli.settings"].notification_max_attempts
    fake.fail_next(TEMPLATE_SEND, -1, times=limit)
    message = send_alert(live_app, user)
    for _ in range(limit - 1):
        deliver_again(live_app, message.id)

    stored = reload(message.id)
    assert stored.status == DeliveryStatus.FAILED
    assert stored.attempt_count == limit and fake.sent_messages == []
    assert stored.next_attempt_at is None


def test_an_access_token_expiring_mid_run_is_refreshed_and_the_message_sent(live_app, fake, world):
    first, second = family_member(), family_member()
    send_alert(live_app, first)
    fake.expire_tokens()  # 7200 s later, between two messages
    message = send_alert(live_app, second)

    assert reload(message.id).status == DeliveryStatus.SENT
    assert [m["touser"] for m in fake.sent_messages] == [first.wechat_oa_openid, second.wechat_oa_openid]
    assert len(fake.calls("/cgi-bin/token")) == 2


@pytest.mark.commits
def test_the_sweep_hands_over_due_rows_it_finds(live_app, fake, world):
    """A row the broker lost: committed, never delivered. The sweep finds it once it is due."""
    user = family_member()
    with live_app.app_context():
        message = services.notify(db.session.get(User, user.id), "device_alert", ALERT, subject_path=HOME)
        forget_pending()  # as if the broker had dropped the hand-over
        db.session.commit()
        assert fake.sent_messages == []
        assert services.sweep_due(grace_seconds=60) == 0  # too fresh: its own task may be on its way
        assert services.sweep_due(grace_seconds=0, now=utcnow() + timedelta(seconds=1)) == 1

    assert reload(message.id).status == DeliveryStatus.SENT
    assert len(fake.sent_messages) == 1


# ----------------------------------------------------------------------------------------------------
# A deliverer that dies while WeChat has the message: a duplicate at worst, never a loss
# ----------------------------------------------------------------------------------------------------


class DiesAfterWechatTookIt(services.WechatSenders):
    """WeChat takes the message in, then the worker is gone before it hears the answer (killed, OOM, the
    machine restarted): a BaseException, which nothing in the delivery may swallow."""

    def send(self, channel: Channel, payload: dict[str, Any]) -> None:
        super().send(channel, payload)
        raise SystemExit("killed")


class WhileWechatHasIt(services.WechatSenders):
    """Runs `meanwhile()` during the WeChat call, before the message goes out."""

    def __init__(self, settings: Settings, meanwhile: Any) -> None:
        super().__init__(settings)
        self.meanwhile = meanwhile

    def send(self, channel: Channel, payload: dict[str, Any]) -> None:
        self.meanwhile()
        super().send(channel, payload)


def committed_alert(live: Flask, user: User) -> uuid.UUID:
    """A smoke alarm committed for `user`, not yet handed to any worker."""
    with live.app_context():
        message = services.notify(db.session.get(User, user.id), "device_alert", ALERT, subject_path=HOME)
        forget_pending()
        db.session.commit()
        return message.id


def lease_over(message_id: uuid.UUID) -> None:
    """As if the lease had run out: the row is due a minute ago."""
    db.session.execute(
        Notification.__table__.update()
        .where(Notification.id == message_id)
        .values(next_attempt_at=utcnow() - timedelta(seconds=60))
    )
    db.session.commit()


@pytest.mark.commits
def test_a_worker_killed_after_wechat_took_the_alarm_leaves_it_to_the_sweep_which_sends_it_again(live_app, fake, world):
    user = family_member()
    settings = live_app.extensions["linli.settings"]
    message_id = committed_alert(live_app, user)

    with live_app.app_context(), pytest.raises(SystemExit):
        services.deliver(message_id, settings, DiesAfterWechatTookIt(settings))

    assert [m["touser"] for m in fake.sent_messages] == [user.wechat_oa_openid]  # the family has it
    stuck = reload(message_id)
    assert (stuck.status, stuck.attempt_count) == (DeliveryStatus.PENDING, 1)
    assert [(a.channel, a.outcome) for a in stuck.attempts] == [(Channel.OFFICIAL_ACCOUNT, AttemptOutcome.SENDING)]
    # Leased for longer than one WeChat send may take: nobody takes it over while it could still be running.
    # Only that long, though: an alarm's deliverer that died is replaced within seconds (the alarm sweep).
    assert stuck.next_attempt_at > utcnow() + timedelta(seconds=settings.wechat_timeout_seconds)
    assert stuck.next_attempt_at <= utcnow() + services.delivery_lease(settings, Urgency.CRITICAL)
    assert services.delivery_lease(settings, Urgency.CRITICAL) < services.delivery_lease(settings)
    with live_app.app_context():
        assert services.deliver(message_id, settings, live_app.extensions["linli.senders"]) is None
        assert services.sweep_due(grace_seconds=0) == 0
    assert len(fake.sent_messages) == 1

    lease_over(message_id)
    with live_app.app_context():
        assert services.sweep_due(grace_seconds=0) == 1  # the beat job's sweep; tasks run eagerly here

    # Told twice — the side of the window we fail to for an alarm — and never not told.
    assert [m["touser"] for m in fake.sent_messages] == [user.wechat_oa_openid] * 2
    sent = reload(message_id)
    assert (sent.status, sent.channel, sent.attempt_count) == (DeliveryStatus.SENT, Channel.OFFICIAL_ACCOUNT, 2)
    assert [a.outcome for a in sent.attempts] == [AttemptOutcome.UNKNOWN, AttemptOutcome.SENT]


@pytest.mark.commits
def test_a_second_delivery_during_the_call_does_nothing_and_no_lock_is_held(live_app, fake, world):
    user = family_member()
    settings = live_app.extensions["linli.settings"]
    message_id = committed_alert(live_app, user)
    seen: dict[str, Any] = {}

    def meanwhile() -> None:
        # Another worker (or the sweep's task) takes the same row while WeChat has it.
        seen["second"] = services.deliver(message_id, settings, live_app.extensions["linli.senders"])
        # The resident opens the message meanwhile: the row is not locked across the call.
        other = db.new_session()
        try:
            with other.begin():
                row = other.scalar(
                    select(Notification)
                    .where(Notification.id == message_id)
                    .with_for_update(of=Notification, nowait=True)
                )
                row.read_at = utcnow()
        finally:
            other.close()

    with live_app.app_context():
        assert services.deliver(message_id, settings, WhileWechatHasIt(settings, meanwhile)) == DeliveryStatus.SENT

    assert seen["second"] is None
    assert len(fake.sent_messages) == 1
    stored = reload(message_id)
    assert (stored.status, stored.attempt_count, stored.read_at is not None) == (DeliveryStatus.SENT, 1, True)


def test_a_busy_wechat_gives_the_subscribe_credit_back_and_the_retry_spends_it(live_app, fake, world):
    user = family_member(follows=False, credits=1, fake=fake)
    fake.fail_next(SUBSCRIBE_SEND, -1)
    message = send_alert(live_app, user)

    waiting = reload(message.id)
    assert waiting.status == DeliveryStatus.PENDING
    assert db.session.get(SubscriptionCredit, (user.id, ALERT_SUB_TEMPLATE)).credits == 1  # nothing was sent

    assert deliver_again(live_app, message.id) == DeliveryStatus.SENT
    db.session.expire_all()
    assert db.session.get(SubscriptionCredit, (user.id, ALERT_SUB_TEMPLATE)).credits == 0
    assert [m["kind"] for m in fake.sent_messages] == ["subscribe"]


def test_a_message_whose_every_try_died_mid_call_stops_being_sent_and_stays_in_the_inbox(live_app, fake, world):
    user = family_member()
    settings = live_app.extensions["linli.settings"]
    message_id = committed_alert(live_app, user)
    for _ in range(settings.notification_max_attempts):
        with live_app.app_context(), pytest.raises(SystemExit):
            services.deliver(message_id, settings, DiesAfterWechatTookIt(settings))
        lease_over(message_id)

    with live_app.app_context():
        assert services.deliver(message_id, settings, live_app.extensions["linli.senders"]) == DeliveryStatus.FAILED
    assert len(fake.sent_messages) == settings.notification_max_attempts  # no more than that, ever
    stored = reload(message_id)
    assert stored.next_attempt_at is None
    assert {a.outcome for a in stored.attempts} == {AttemptOutcome.UNKNOWN}
    with live_app.app_context():
        in_inbox = db.session.scalars(services.inbox(db.session.get(User, user.id))).all()
        assert [m.id for m in in_inbox] == [message_id]
