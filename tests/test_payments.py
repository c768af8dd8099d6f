"""Payments, as a resident, finance staff and WeChat Pay would notice them: the real `wechatpayv3` path against
a fake WeChat Pay on loopback (`tests/fake_wechatpay.py`), which checks every request's signature and signs and
encrypts what it sends back; our notify checks run for real.

No domain sells anything yet: a test purpose (`test_parking`, a tiny receiver of the payment signals) stands in
for parking and party dues. It records what it is told, and answers a payment after close as it is set to.
"""

from __future__ import annotations

import base64
import csv
import io
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from api.accounts.models import Role, User
from api.accounts.services import create_staff
from api.config import ConfigError, Settings
from api.db import db, utcnow
from api.fields import LOCAL_TZ
from api.jobs import forget_pending
from api.notifications.models import Notification
from api.payments import reconciliation, services, signals
from api.payments.models import (
    AuditAction,
    OrderStatus,
    PaidVia,
    PaymentAudit,
    PaymentDiscrepancy,
    PaymentOrder,
    PaymentRefund,
    RefundStatus,
)
from tests.conftest import STAFF_PASSWORD, World, bearer, staff_login, wechat_login
from tests.fake_wechatpay import APIV3_KEY, MCHID, FakeWechatPay, Notify, TestKeys

BUILDING_KJ01 = "/KJ/KJ01/KJ01-01/KJ01-01-001/"
NOTIFY = "/api/v1/payments/wechat/notify"
REFUND_NOTIFY = "/api/v1/payments/wechat/refund-notify"


# ----------------------------------------------------------------------------------------------------
# The parts: keys, the fake WeChat Pay, the app pointed at it, the test purpose
# ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pay_keys(tmp_path_factory: pytest.TempPathFactory) -> TestKeys:
    return TestKeys.make(tmp_path_factory.mktemp("wechatpay-keys"))


@pytest.fixture(scope="module")
def fake_server(pay_keys: TestKeys) -> Iterator[FakeWechatPay]:
    with FakeWechatPay(pay_keys) as server:
        yield server


@pytest.fixture
def fake(settings: Settings, fake_server: FakeWechatPay, pay_keys: TestKeys) -> FakeWechatPay:
    """WeChat Pay configured for real and pointed at the fake (settings are restored after the test)."""
    fake_server.reset()
    for name, value in pay_keys.settings(fake_server.url).items():
        setattr(settings, name, value)
    assert settings.payments_live, settings.payments_problems()
    return fake_server


@dataclass
class TestPurpose:
    """A domain selling parking by the hour, as far as payments can tell: what it was told, once each."""

    late_answer: signals.LateDecision | None = None
    paid: list[uuid.UUID] = field(default_factory=list)
    closed: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    late: list[uuid.UUID] = field(default_factory=list)
    refunded: list[tuple[uuid.UUID, int]] = field(default_factory=list)
    refund_failed: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    __test__ = False

    def on_paid(self, order: PaymentOrder, **_: Any) -> None:
        if order.purpose == "test_parking":
            with self.lock:
                self.paid.append(order.id)

    def on_closed(self, order: PaymentOrder, reason: str, **_: Any) -> None:
        if order.purpose == "test_parking":
            self.closed.append((order.id, reason))

    def on_late(self, order: PaymentOrder, **_: Any) -> signals.LateDecision | None:
        if order.purpose != "test_parking":
            return None
        self.late.append(order.id)
        return self.late_answer

    def on_refunded(self, refund: PaymentRefund, **_: Any) -> None:
        if refund.order.purpose == "test_parking":
            self.refunded.append((refund.order_id, refund.amount_fen))

    def on_refund_failed(self, refund: PaymentRefund, **_: Any) -> None:
        if refund.order.purpose == "test_parking":
            self.refund_failed.append((refund.order_id, refund.status.value))


@pytest.fixture
def parking() -> Iterator[TestPurpose]:
    purpose = TestPurpose()
    pairs = [
        (signals.payment_succeeded, purpose.on_paid),
        (signals.payment_closed, purpose.on_closed),
        (signals.payment_after_close, purpose.on_late),
        (signals.refund_succeeded, purpose.on_refunded),
        (signals.refund_failed, purpose.on_refund_failed),
    ]
    for signal, receiver in pairs:
        signal.connect(receiver)
    try:
        yield purpose
    finally:
        for signal, receiver in pairs:
            signal.disconnect(receiver)


@pytest.fixture
def finance(client: FlaskClient, world: World, app: Flask) -> dict[str, Any]:
    """钱会计, finance staff of the whole subdistrict."""
    with app.app_context():
        user = create_staff("qian-finance", STAFF_PASSWORD, Role.STAFF, "KJ")
        user.grant(Role.FINANCE)
        db.session.commit()
    tokens = staff_login(client, "qian-finance")
    return {**tokens, "headers": bearer(tokens["access_token"])}


def user_id(person: dict[str, Any]) -> uuid.UUID:
    return uuid.UUID(person["user"]["id"])


def sell(
    app: Flask,
    payer: dict[str, Any],
    amount_fen: int = 1500,
    *,
    area_path: str | None = BUILDING_KJ01,
    expires_in: timedelta = timedelta(minutes=15),
    reference: str | None = None,
) -> PaymentOrder:
    """The test purpose sells an hour of parking to `payer` (in its own transaction, as a domain would)."""
    with app.app_context():
        order = services.create_order(
            db.session.get(User, user_id(payer)),
            "test_parking",
            reference or f"booking-{uuid.uuid4().hex[:8]}",
            amount_fen,
            "控江二村共享车位 1小时",
            expires_in,
            area_path=area_path,
        )
        db.session.commit()
        return order


def order_row(order_id: uuid.UUID) -> PaymentOrder:
    db.session.remove()
    order = db.session.get(PaymentOrder, order_id)
    assert order is not None
    return order


def post_notify(client: FlaskClient, notify: Notify, path: str = NOTIFY) -> Any:
    return client.post(path, data=notify.body, headers=notify.headers)


def prepay(client: FlaskClient, person: dict[str, Any], order_id: uuid.UUID) -> Any:
    return client.post(f"/api/v1/payments/{order_id}/prepay", headers=person["headers"])


def paid_through_notify(client: FlaskClient, fake: FakeWechatPay, person: dict[str, Any], order: PaymentOrder) -> None:
    assert prepay(client, person, order.id).status_code == 200
    assert post_notify(client, fake.pay(order.out_trade_no)).status_code == 204


def verifies(keys: TestKeys, params: dict[str, str]) -> bool:
    """What WeChat checks in `wx.requestPayment`: paySign over appId, timeStamp, nonceStr, package (merchant key)."""
    message = "\n".join([params["appId"], params["timeStamp"], params["nonceStr"], params["package"]]) + "\n"
    try:
        keys.merchant.public_key().verify(
            base64.b64decode(params["paySign"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except Exception:
        return False
    return True


# ----------------------------------------------------------------------------------------------------
# Paying
# ----------------------------------------------------------------------------------------------------


def test_a_resident_pays_once_and_the_purpose_hears_of_it_once(app, client, fake, resident, parking, pay_keys):
    order = sell(app, resident, 1500)

    first = prepay(client, resident, order.id)
    again = prepay(client, resident, order.id)

    assert first.status_code == 200, first.get_json()
    params = first.get_json()
    assert params["sandbox"] is False and params["signType"] == "RSA"
    assert params["package"].startswith("prepay_id=wx") and params["appId"] == "wx-test-app"
    assert verifies(pay_keys, params)
    assert again.status_code == 200 and again.get_json()["package"] == params["package"]
    assert verifies(pay_keys, again.get_json())
    assert len(fake.calls("/v3/pay/transactions/jsapi")) == 1, "a second prepay made a second WeChat Pay order"
    jsapi = fake.calls("/v3/pay/transactions/jsapi")[0]
    assert jsapi.status == 200  # the fake accepted our signature
    assert fake.orders[order.out_trade_no].total == 1500
    assert fake.orders[order.out_trade_no].openid.startswith("sbx-")  # the resident's mini-program openid

    notify = fake.pay(order.out_trade_no)
    assert post_notify(client, notify).status_code == 204
    assert post_notify(client, notify).status_code == 204  # WeChat Pay sends it again: still a success

    paid = order_row(order.id)
    assert paid.status == OrderStatus.PAID and paid.paid_via == PaidVia.NOTIFY
    assert paid.transaction_id == fake.orders[order.out_trade_no].transaction_id
    assert parking.paid == [order.id]
    seen = client.get(f"/api/v1/payments/{order.id}", headers=resident["headers"]).get_json()
    assert (seen["status"], seen["amount_fen"], seen["purpose"], seen["refunds"]) == ("paid", 1500, "test_parking", [])
    assert prepay(client, resident, order.id).get_json()["code"] == "payment_already_paid"


def test_my_payments_are_mine_alone(app, client, fake, resident, world):
    mine = sell(app, resident, 800)
    lisi = wechat_login(client, "lisi#1")
    theirs = sell(app, {"user": lisi["user"]}, 900)

    listed = client.get("/api/v1/me/payments?limit=1", headers=resident["headers"]).get_json()
    assert [i["id"] for i in listed["items"]] == [str(mine.id)] and listed["next_cursor"] is None
    assert client.get(f"/api/v1/payments/{theirs.id}", headers=resident["headers"]).status_code == 404
    other = prepay(client, resident, theirs.id)
    assert other.status_code == 404 and other.get_json()["code"] == "not_found"
    assert fake.calls("/v3/pay/transactions/jsapi") == []


@pytest.mark.services
@pytest.mark.commits
def test_the_same_notify_five_times_at_once_marks_it_paid_once(app, client, fake, resident, parking):
    order = sell(app, resident, 2000)
    assert prepay(client, resident, order.id).status_code == 200
    notify = fake.pay(order.out_trade_no)
    barrier = threading.Barrier(5)
    answers: list[int] = []

    def deliver() -> None:
        with app.test_client() as own:
            barrier.wait()
            answers.append(post_notify(own, notify).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert answers == [204] * 5
    assert parking.paid == [order.id]
    assert order_row(order.id).status == OrderStatus.PAID


# ----------------------------------------------------------------------------------------------------
# Notifies that are refused
# ----------------------------------------------------------------------------------------------------

OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _spoiled(fake: FakeWechatPay, out_trade_no: str, how: str) -> Notify:
    if how == "bad signature":
        return fake.payment_notify(out_trade_no, signer=OTHER_KEY)
    if how == "stale timestamp":
        return fake.payment_notify(out_trade_no, timestamp=int(time.time()) - 301)
    if how == "timestamp from the future":
        return fake.payment_notify(out_trade_no, timestamp=int(time.time()) + 3600)
    if how == "wrong amount":
        return fake.payment_notify(out_trade_no, resource={"amount": {"total": 1, "currency": "CNY"}})
    if how == "wrong mchid":
        return fake.payment_notify(out_trade_no, resource={"mchid": "1999999999"})
    if how == "wrong appid":
        return fake.payment_notify(out_trade_no, resource={"appid": "wx-someone-else"})
    if how == "not decryptable":
        return fake.payment_notify(out_trade_no, apiv3_key="another-apiv3-key-0123456789abcd")
    if how == "not JSON":
        return fake.payment_notify(out_trade_no, body=b"<xml><return_code>SUCCESS</return_code></xml>")
    if how == "nested too deep":
        return fake.payment_notify(out_trade_no, body=b"[" * 100_000 + b"]" * 100_000)
    if how == "another key id":
        return fake.payment_notify(out_trade_no, serial="PUB_KEY_ID_SOMEONE_ELSE")
    if how == "signature not base64":
        return fake.payment_notify(out_trade_no, signature="%%%not-base64%%%")
    if how == "no signature headers":
        notify = fake.payment_notify(out_trade_no)
        return Notify({"Content-Type": "application/json"}, notify.body)
    if how == "unknown order":
        return fake.payment_notify(out_trade_no, resource={"out_trade_no": "LL20990101DEADBEEF00000000"})
    raise AssertionError(how)


@pytest.mark.parametrize(
    "how",
    [
        "bad signature",
        "stale timestamp",
        "timestamp from the future",
        "wrong amount",
        "wrong mchid",
        "wrong appid",
        "not decryptable",
        "not JSON",
        "nested too deep",
        "another key id",
        "signature not base64",
        "no signature headers",
        "unknown order",
    ],
)
def test_a_notify_that_fails_verification_is_refused_and_changes_nothing(app, client, fake, resident, parking, how):
    order = sell(app, resident, 1500)
    assert prepay(client, resident, order.id).status_code == 200
    fake.pay(order.out_trade_no)  # WeChat Pay has the money; the notify we get is not the real one

    answer = post_notify(client, _spoiled(fake, order.out_trade_no, how))

    assert 400 <= answer.status_code < 500, (answer.status_code, answer.get_data(as_text=True))
    assert answer.get_json()["code"] == "FAIL" and answer.get_json()["message"]
    assert order_row(order.id).status == OrderStatus.PENDING
    assert parking.paid == []
    # The real notify, when it comes, is taken.
    assert post_notify(client, fake.payment_notify(order.out_trade_no)).status_code == 204
    assert parking.paid == [order.id]


def test_a_notify_that_trips_over_a_bug_is_answered_so_wechat_pay_sends_it_again(
    app, client, fake, resident, parking, monkeypatch
):
    order = sell(app, resident, 1500)
    assert prepay(client, resident, order.id).status_code == 200
    notify = fake.pay(order.out_trade_no)

    def broken(*_args: Any, **_kwargs: Any) -> str:
        raise RuntimeError("a bug")

    monkeypatch.setattr(services, "record_paid", broken)
    answer = post_notify(client, notify)
    monkeypatch.undo()

    assert answer.status_code == 503 and answer.get_json()["code"] == "FAIL"
    assert order_row(order.id).status == OrderStatus.PENDING
    assert post_notify(client, notify).status_code == 204 and parking.paid == [order.id]


def test_a_refund_notify_that_does_not_match_the_refund_is_refused(app, client, fake, resident, finance, parking):
    order = sell(app, resident, 1000)
    paid_through_notify(client, fake, resident, order)
    made = client.post(
        f"/api/v1/admin/payments/{order.id}/refunds",
        json={"amount_fen": 400, "reason": "车位临时占用"},
        headers=finance["headers"],
    )
    assert made.status_code == 201, made.get_json()
    number = made.get_json()["out_refund_no"]
    fake.finish_refund(number)

    wrong = post_notify(
        client, fake.refund_notify(number, resource={"amount": {"total": 1000, "refund": 999}}), REFUND_NOTIFY
    )
    forged = post_notify(client, fake.refund_notify(number, signer=OTHER_KEY), REFUND_NOTIFY)

    assert (wrong.status_code, forged.status_code) == (400, 401)
    assert parking.refunded == []
    assert post_notify(client, fake.refund_notify(number), REFUND_NOTIFY).status_code == 204
    assert parking.refunded == [(order.id, 400)]


# ----------------------------------------------------------------------------------------------------
# Never lose anything: lost notifies, expiry, a payment after close
# ----------------------------------------------------------------------------------------------------


def test_a_lost_notify_is_found_by_the_query_job(app, client, fake, resident, parking, settings):
    order = sell(app, resident, 1200)
    assert prepay(client, resident, order.id).status_code == 200
    fake.pay(order.out_trade_no)  # the notify never arrives

    with app.app_context():
        early = services.query_unpaid(settings, services.get_gateway())
        later = services.query_unpaid(settings, services.get_gateway(), utcnow() + timedelta(minutes=6))

    assert (early, later) == (0, 1)
    paid = order_row(order.id)
    assert (paid.status, paid.paid_via) == (OrderStatus.PAID, PaidVia.QUERY)
    assert parking.paid == [order.id]
    # The notify arriving after all changes nothing.
    assert post_notify(client, fake.payment_notify(order.out_trade_no)).status_code == 204
    assert parking.paid == [order.id]


def test_an_order_past_its_time_is_closed_at_wechat_pay_and_here(app, client, fake, resident, parking):
    unpaid = sell(app, resident, 700, expires_in=timedelta(minutes=3))
    never_prepaid = sell(app, resident, 900, expires_in=timedelta(minutes=3))
    paid_late_notify = sell(app, resident, 1100, expires_in=timedelta(minutes=3))
    assert prepay(client, resident, unpaid.id).status_code == 200
    assert prepay(client, resident, paid_late_notify.id).status_code == 200
    fake.pay(paid_late_notify.out_trade_no)  # paid in time; its notify is late

    with app.app_context():
        closed = services.close_expired(services.get_gateway(), utcnow() + timedelta(minutes=4))

    assert closed == 2
    assert fake.orders[unpaid.out_trade_no].state == "CLOSED"
    assert order_row(unpaid.id).status == OrderStatus.CLOSED
    assert order_row(never_prepaid.id).status == OrderStatus.CLOSED
    assert order_row(paid_late_notify.id).status == OrderStatus.PAID  # WeChat Pay refused to close it: paid
    assert sorted(parking.closed) == sorted([(unpaid.id, "expired"), (never_prepaid.id, "expired")])
    assert parking.paid == [paid_late_notify.id]
    answer = prepay(client, resident, unpaid.id)
    assert answer.status_code == 409 and answer.get_json()["code"] == "payment_closed"


def test_a_payment_after_close_is_refunded_in_full_and_the_payer_told(app, client, fake, resident, parking):
    order = sell(app, resident, 1500)
    assert prepay(client, resident, order.id).status_code == 200
    notify = fake.pay(order.out_trade_no)  # paid at the last second ...
    with app.app_context():
        services.close_order(db.session.get(PaymentOrder, order.id))  # ... as the booking was given up
        forget_pending()  # WeChat Pay is not told before the notify arrives
        db.session.commit()
    assert parking.closed == [(order.id, "closed_by_domain")]

    assert post_notify(client, notify).status_code == 204
    assert post_notify(client, notify).status_code == 204

    late = order_row(order.id)
    assert late.status == OrderStatus.PAID and late.paid_after_close
    assert parking.late == [order.id] and parking.paid == []
    (refund,) = late.refunds
    assert refund.amount_fen == 1500 and refund.requested_by_id is None
    assert refund.status == RefundStatus.PROCESSING  # sent to WeChat Pay after the notify's commit
    assert fake.refunds[refund.out_refund_no].amount == 1500
    told = db.session.scalars(select(Notification.kind).where(Notification.user_id == user_id(resident))).all()
    assert told == ["payment_refunded_late"]
    assert db.session.scalar(select(func.count()).select_from(PaymentAudit).where(PaymentAudit.action == "auto_refund"))


def test_a_purpose_may_keep_a_payment_after_close(app, client, fake, resident, parking):
    parking.late_answer = signals.LateDecision.KEEP  # the space is still free
    order = sell(app, resident, 1500)
    assert prepay(client, resident, order.id).status_code == 200
    fake.pay(order.out_trade_no)
    with app.app_context():
        services.close_order(db.session.get(PaymentOrder, order.id))
        db.session.commit()  # WeChat Pay refuses the close (paid): the query finds the payment

    kept = order_row(order.id)
    assert kept.status == OrderStatus.PAID and kept.paid_after_close and kept.refunds == []
    assert parking.late == [order.id] and parking.paid == [order.id]


# ----------------------------------------------------------------------------------------------------
# Refunds
# ----------------------------------------------------------------------------------------------------


def refund_by(
    client: FlaskClient, staff: dict[str, Any], order_id: uuid.UUID, amount_fen: Any, reason: str = "退订"
) -> Any:
    return client.post(
        f"/api/v1/admin/payments/{order_id}/refunds",
        json={"amount_fen": amount_fen, "reason": reason},
        headers=staff["headers"],
    )


def test_two_partial_refunds_up_to_the_paid_amount_and_a_third_is_refused(
    app, client, fake, resident, finance, parking
):
    order = sell(app, resident, 3000)
    paid_through_notify(client, fake, resident, order)

    first = refund_by(client, finance, order.id, 1000, "提前离场，退还半程")
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["status"] == "requested"  # sent to WeChat Pay once this answer is committed
    assert db.session.get(PaymentRefund, uuid.UUID(first.get_json()["id"])).status == RefundStatus.PROCESSING
    assert post_notify(client, fake.finish_refund(first.get_json()["out_refund_no"]), REFUND_NOTIFY).status_code == 204
    second = refund_by(client, finance, order.id, 2000, "车位故障")
    assert second.status_code == 201
    assert post_notify(client, fake.finish_refund(second.get_json()["out_refund_no"]), REFUND_NOTIFY).status_code == 204
    third = refund_by(client, finance, order.id, 1)

    assert third.status_code == 409 and third.get_json()["code"] == "refund_exceeds_paid"
    assert first.get_json()["out_refund_no"] != second.get_json()["out_refund_no"]
    seen = client.get(f"/api/v1/payments/{order.id}", headers=resident["headers"]).get_json()
    assert seen["refunded_fen"] == 3000 and seen["refund_pending_fen"] == 0
    assert [(r["amount_fen"], r["status"]) for r in seen["refunds"]] == [(1000, "succeeded"), (2000, "succeeded")]
    assert parking.refunded == [(order.id, 1000), (order.id, 2000)]
    assert sum(r.amount for r in fake.refunds.values()) == 3000
    told = db.session.scalars(select(Notification.kind).where(Notification.user_id == user_id(resident))).all()
    assert sorted(told) == ["payment_refunded", "payment_refunded"]
    audit = db.session.scalars(select(PaymentAudit).where(PaymentAudit.action == AuditAction.REFUND)).all()
    assert sorted((a.amount_fen, a.reason) for a in audit) == [(1000, "提前离场，退还半程"), (2000, "车位故障")]


def test_a_refund_wechat_pay_closes_is_refundable_again(app, client, fake, resident, finance, parking):
    order = sell(app, resident, 1000)
    paid_through_notify(client, fake, resident, order)
    made = refund_by(client, finance, order.id, 1000).get_json()

    assert post_notify(client, fake.finish_refund(made["out_refund_no"], "CLOSED"), REFUND_NOTIFY).status_code == 204

    assert parking.refund_failed == [(order.id, "closed")]
    assert order_row(order.id).refundable_fen == 1000
    assert refund_by(client, finance, order.id, 1000).status_code == 201


@pytest.mark.commits
def test_a_refund_lost_on_its_way_is_sent_again_by_the_sweep(app, client, fake, resident, finance, settings):
    order = sell(app, resident, 1000)
    paid_through_notify(client, fake, resident, order)
    fake.fail_next("/v3/refund/domestic/refunds", 503, "SYSTEM_ERROR")  # WeChat Pay busy at the first try
    made = refund_by(client, finance, order.id, 600).get_json()
    assert made["status"] == "requested"

    with app.app_context():
        services.sweep(settings, services.get_gateway(), utcnow() + timedelta(minutes=2))
    assert db.session.get(PaymentRefund, uuid.UUID(made["id"])).status == RefundStatus.PROCESSING
    fake.refunds[made["out_refund_no"]].status = "SUCCESS"  # the notify is lost; the sweep asks
    fake.refunds[made["out_refund_no"]].success_time = utcnow().astimezone(LOCAL_TZ)
    with app.app_context():
        services.sweep(settings, services.get_gateway(), utcnow() + timedelta(minutes=4))

    db.session.remove()
    assert db.session.get(PaymentRefund, uuid.UUID(made["id"])).status == RefundStatus.SUCCEEDED
    assert len(fake.refunds) == 1


# ----------------------------------------------------------------------------------------------------
# Reconciliation
# ----------------------------------------------------------------------------------------------------


def noon_today(fake: FakeWechatPay) -> date:
    """Trades happen at noon today (Shanghai): the bill's day does not change under a test run at midnight."""
    today = utcnow().astimezone(LOCAL_TZ).date()
    fake.trade_time = datetime.combine(today, datetime.min.time(), tzinfo=LOCAL_TZ).replace(hour=12)
    return today


def test_reconciliation_lists_exactly_the_injected_differences(app, client, fake, resident, finance, kj01_staff):
    today = noon_today(fake)
    matching, differing, missing_there = (sell(app, resident, amount) for amount in (1000, 2000, 3000))
    for order in (matching, differing, missing_there):
        paid_through_notify(client, fake, resident, order)
    refund = refund_by(client, finance, matching.id, 400).get_json()
    post_notify(client, fake.finish_refund(refund["out_refund_no"]), REFUND_NOTIFY)
    foreign = "LL20000101FOREIGN000000001"
    fake.bill_extra(today, foreign, 5000)  # paid there, not here
    fake.bill_amount(differing.out_trade_no, 2001)  # amounts differ
    fake.bill_omit(missing_there.out_trade_no)  # here, not there

    with app.app_context():
        result = reconciliation.reconcile(today, services.get_gateway())
        again = reconciliation.reconcile(today, services.get_gateway())

    assert result is not None and again is not None
    assert (result.differences, again.differences) == (3, 3)
    rows = db.session.scalars(select(PaymentDiscrepancy)).all()
    assert sorted((r.entry, r.kind, r.reference, r.our_amount_fen, r.their_amount_fen) for r in rows) == sorted(
        [
            ("payment", "missing_here", foreign, None, 5000),
            ("payment", "amount_mismatch", differing.out_trade_no, 2000, 2001),
            ("payment", "missing_there", missing_there.out_trade_no, 3000, None),
        ]
    )
    listed = client.get("/api/v1/admin/payments/discrepancies", headers=finance["headers"])
    assert listed.status_code == 200 and len(listed.get_json()["items"]) == 3
    assert client.get("/api/v1/admin/payments/discrepancies", headers=kj01_staff["headers"]).status_code == 403
    told = db.session.scalars(
        select(Notification).where(
            Notification.kind == "payment_discrepancies", Notification.user_id == user_id(finance)
        )
    ).all()
    assert len(told) == 1 and "3" in told[0].title
    assert (result.bill_payments_fen, result.our_payments_fen) == (1000 + 2001 + 5000, 1000 + 2000 + 3000)
    assert (result.bill_refunds_fen, result.our_refunds_fen) == (400, 400)


def test_a_day_that_agrees_has_no_differences(app, client, fake, resident, finance):
    today = noon_today(fake)
    order = sell(app, resident, 1234)
    paid_through_notify(client, fake, resident, order)

    with app.app_context():
        result = reconciliation.reconcile(today, services.get_gateway())
        empty_day = reconciliation.reconcile(today - timedelta(days=3), services.get_gateway())

    assert result is not None and (result.status, result.differences) == ("matched", 0)
    assert result.bill_payments_fen == result.our_payments_fen == 1234
    assert empty_day is not None and empty_day.differences == 0  # no bill that day: nothing either side
    days = client.get("/api/v1/admin/payments/reconciliations", headers=finance["headers"]).get_json()["items"]
    assert len(days) == 2


def test_the_bill_parser_reads_wechat_pay_amounts_exactly():
    assert reconciliation.to_fen("0.01") == 1 and reconciliation.to_fen("1234.50") == 123450
    with pytest.raises(reconciliation.BillError):
        reconciliation.to_fen("0.001")
    with pytest.raises(reconciliation.BillError):
        reconciliation.parse_bill("not,a,bill\n`x,`y,`z\n")


# ----------------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [0, -100, 500_001, True, 12.5, "1500", None])
def test_an_order_for_a_bad_amount_is_refused(app, resident, settings, amount):
    with app.app_context(), pytest.raises(services.ApiError) as refused:
        services.create_order(
            db.session.get(User, user_id(resident)),
            "test_parking",
            "booking-1",
            amount,
            "车位",
            600,
            area_path=None,
            settings=settings,
        )
    assert refused.value.code == "payment_amount_invalid" and refused.value.status == 422
    assert db.session.scalar(select(func.count()).select_from(PaymentOrder)) == 0


def test_a_domain_asking_twice_gets_the_same_order_and_never_a_second_charge(app, resident, settings):
    first = sell(app, resident, 1500, reference="booking-7")
    again = sell(app, resident, 1500, reference="booking-7")
    with app.app_context(), pytest.raises(services.ApiError) as other:
        services.create_order(
            db.session.get(User, user_id(resident)), "test_parking", "booking-7", 1600, "车位", 600, area_path=None
        )
    assert again.id == first.id and other.value.code == "payment_order_open"


@pytest.mark.parametrize(
    ("amount", "code", "status"),
    [
        (0, "validation_failed", 422),
        (-5, "payment_amount_invalid", 422),
        (1.5, "validation_failed", 422),
        ("100", "validation_failed", 422),
        (1501, "refund_exceeds_paid", 409),
    ],
)
def test_a_bad_refund_is_refused_and_holds_nothing(app, client, fake, resident, finance, amount, code, status):
    order = sell(app, resident, 1500)
    paid_through_notify(client, fake, resident, order)
    answer = refund_by(client, finance, order.id, amount)
    assert (answer.status_code, answer.get_json()["code"]) in ((status, code), (422, "payment_amount_invalid"))
    assert order_row(order.id).refunded_fen == 0 and fake.refunds == {}


def test_only_finance_and_admins_refund_and_only_paid_orders(app, client, fake, resident, finance, kj01_staff, admin):
    unpaid = sell(app, resident, 1500)
    assert refund_by(client, kj01_staff, unpaid.id, 100).status_code == 403
    answer = refund_by(client, admin, unpaid.id, 100)
    assert answer.status_code == 409 and answer.get_json()["code"] == "payment_not_paid"


def test_prepay_of_a_closed_order_is_a_conflict(app, client, fake, resident):
    order = sell(app, resident, 1500)
    with app.app_context():
        services.close_order(db.session.get(PaymentOrder, order.id))
        db.session.commit()
    answer = prepay(client, resident, order.id)
    assert answer.status_code == 409 and answer.get_json()["code"] == "payment_closed"
    assert fake.calls("/v3/pay/transactions/jsapi") == []


def test_wechat_pay_out_of_reach_at_prepay_is_a_clear_answer(app, client, fake, resident, settings):
    order = sell(app, resident, 1500)
    settings.wechat_pay_api_base_url = "http://127.0.0.1:9"  # nothing listens there
    answer = prepay(client, resident, order.id)
    assert answer.status_code == 502 and answer.get_json()["code"] == "wechat_pay_unavailable"
    assert order_row(order.id).prepay_id is None


def test_an_answer_not_signed_by_wechat_pay_is_not_believed(app, client, fake, resident, pay_keys, monkeypatch):
    order = sell(app, resident, 1500)
    monkeypatch.setattr(fake.keys, "platform", OTHER_KEY)  # someone between us and WeChat Pay answers
    try:
        answer = prepay(client, resident, order.id)
    finally:
        monkeypatch.undo()
    assert answer.status_code == 502 and order_row(order.id).prepay_id is None


# ----------------------------------------------------------------------------------------------------
# Staff: scope, lists, export, audit
# ----------------------------------------------------------------------------------------------------


def test_staff_see_payments_of_their_area_and_every_look_is_audited(
    app, client, fake, resident, kj01_staff, kj02_staff, admin
):
    kj01 = sell(app, resident, 1500)
    nowhere = sell(app, resident, 2500, area_path=None)

    def listed(person: dict[str, Any]) -> set[str]:
        return {i["id"] for i in client.get("/api/v1/admin/payments", headers=person["headers"]).get_json()["items"]}

    assert listed(kj01_staff) == {str(kj01.id)}
    assert listed(kj02_staff) == set()
    assert listed(admin) == {str(kj01.id), str(nowhere.id)}  # no area: the whole subdistrict's
    assert client.get(f"/api/v1/admin/payments/{kj01.id}", headers=kj02_staff["headers"]).status_code == 404
    assert client.get(f"/api/v1/payments/{kj01.id}", headers=kj02_staff["headers"]).status_code == 404
    assert client.get(f"/api/v1/payments/{kj01.id}", headers=kj01_staff["headers"]).get_json()["amount_fen"] == 1500
    one = client.get(f"/api/v1/admin/payments/{kj01.id}", headers=kj01_staff["headers"]).get_json()
    assert one["out_trade_no"] == kj01.out_trade_no and one["payer"]["id"] == resident["user"]["id"]
    assert client.get("/api/v1/admin/payments", headers=resident["headers"]).status_code == 403

    export = client.get("/api/v1/admin/payments/export.csv?status=pending", headers=admin["headers"])
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    assert export.status_code == 200 and len(rows) == 3
    assert {row[8] for row in rows[1:]} == {"15.00", "25.00"}

    actions = db.session.scalars(select(PaymentAudit.action).order_by(PaymentAudit.id)).all()
    assert actions.count(AuditAction.LIST) == 3 and AuditAction.EXPORT in actions
    assert actions.count(AuditAction.VIEW) == 2
    exported = db.session.scalar(select(PaymentAudit).where(PaymentAudit.action == AuditAction.EXPORT))
    assert exported.details == {"status": "pending"}


# ----------------------------------------------------------------------------------------------------
# The sandbox (embedded default) and configuration
# ----------------------------------------------------------------------------------------------------


def test_the_sandbox_shows_a_whole_paid_and_refunded_flow(app, client, resident, admin, settings):
    assert settings.payments_sandbox
    made = client.post("/api/v1/payments/sandbox-orders", json={"amount_fen": 880}, headers=resident["headers"])
    assert made.status_code == 201, made.get_json()
    order_id = made.get_json()["id"]

    params = client.post(f"/api/v1/payments/{order_id}/prepay", headers=resident["headers"]).get_json()
    done = client.post(
        f"/api/v1/payments/{order_id}/sandbox-complete", json={"outcome": "paid"}, headers=resident["headers"]
    )
    refunded = client.post(
        f"/api/v1/admin/payments/{order_id}/refunds",
        json={"amount_fen": 880, "reason": "演示退款"},
        headers=admin["headers"],
    )

    assert params["sandbox"] is True and params["package"].startswith("prepay_id=sandbox_")
    assert done.status_code == 200 and done.get_json()["status"] == "paid"
    assert refunded.status_code == 201
    seen = client.get(f"/api/v1/payments/{order_id}", headers=resident["headers"]).get_json()
    assert seen["refunded_fen"] == 880 and seen["refunds"][0]["status"] == "succeeded"


def test_the_sandbox_can_fail_a_payment(app, client, resident, parking):
    order = sell(app, resident, 500)
    failed = client.post(
        f"/api/v1/payments/{order.id}/sandbox-complete", json={"outcome": "failed"}, headers=resident["headers"]
    )
    assert failed.status_code == 200 and failed.get_json()["status"] == "closed"
    assert parking.closed == [(order.id, "payment_failed")]


def test_sandbox_routes_are_refused_with_wechat_pay_configured_and_in_production(app, client, fake, resident, settings):
    order = sell(app, resident, 500)
    live = client.post(
        f"/api/v1/payments/{order.id}/sandbox-complete", json={"outcome": "paid"}, headers=resident["headers"]
    )
    assert live.status_code == 404 and live.get_json()["code"] == "payments_sandbox_only"
    for name in (
        "wechat_pay_mchid",
        "wechat_pay_private_key_path",
        "wechat_pay_cert_serial_no",
        "wechat_pay_apiv3_key",
        "wechat_pay_notify_url",
        "wechat_pay_public_key_path",
        "wechat_pay_public_key_id",
    ):
        setattr(settings, name, "")
    settings.env = "production"
    refused = client.post("/api/v1/payments/sandbox-orders", json={"amount_fen": 500}, headers=resident["headers"])
    assert refused.status_code == 503 and refused.get_json()["code"] == "payments_unavailable"


def test_operators_grant_the_finance_role_from_the_command_line(app, world):
    runner = app.test_cli_runner()

    granted = runner.invoke(args=["payments", "grant-finance", "kj01-staff"])
    unknown = runner.invoke(args=["payments", "grant-finance", "nobody"])

    assert granted.exit_code == 0, granted.output
    assert "finance" in granted.output
    assert unknown.exit_code != 0 and "no staff login" in unknown.output
    db.session.remove()
    staff = db.session.scalar(select(User).where(User.username == "kj01-staff"))
    assert staff is not None and staff.has_role(Role.FINANCE)


PRODUCTION = {
    "LINLI_ENV": "production",
    "SECRET_KEY": "a-production-secret-that-is-long-enough-0123456789",
    "DATABASE_URL": "postgresql://linli@db.internal:5432/linli",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "WECHAT_MINIAPP_ID": "wx-test-app",
    "WECHAT_MINIAPP_SECRET": "miniapp-secret",
    "PII_ENCRYPTION_KEY": "k1:" + base64.b64encode(bytes(32)).decode(),
}


def test_production_takes_wechat_pay_configured_whole(pay_keys):
    settings = Settings.from_env({**PRODUCTION, **pay_keys.env("https://api.mch.weixin.qq.com")})
    settings.check_production()
    assert settings.payments_live and not settings.payments_sandbox
    assert settings.wechat_pay_refund_notify == "https://linli.example.cn/api/v1/payments/wechat/refund-notify"


@pytest.mark.parametrize(
    ("drop", "complaint"),
    [
        ("WECHAT_PAY_MCHID", "WECHAT_PAY_MCHID"),
        ("WECHAT_PAY_APIV3_KEY", "WECHAT_PAY_APIV3_KEY"),
        ("WECHAT_PAY_PRIVATE_KEY_PATH", "WECHAT_PAY_PRIVATE_KEY_PATH"),
        ("WECHAT_PAY_PUBLIC_KEY_ID", "go together"),
        ("WECHAT_PAY_NOTIFY_URL", "WECHAT_PAY_NOTIFY_URL"),
    ],
)
def test_production_refuses_wechat_pay_configured_half_way(pay_keys, drop, complaint):
    env = {**PRODUCTION, **pay_keys.env("https://api.mch.weixin.qq.com")}
    env.pop(drop)
    with pytest.raises(ConfigError, match=complaint):
        Settings.from_env(env).check_production()


def test_production_refuses_a_short_api_v3_key_or_a_key_file_that_is_not_there(pay_keys, tmp_path):
    env = {**PRODUCTION, **pay_keys.env("https://api.mch.weixin.qq.com")}
    with pytest.raises(ConfigError, match="32-character"):
        Settings.from_env({**env, "WECHAT_PAY_APIV3_KEY": "short"}).check_production()
    with pytest.raises(ConfigError, match="readable file"):
        Settings.from_env({**env, "WECHAT_PAY_PRIVATE_KEY_PATH": str(tmp_path / "none.pem")}).check_production()
    assert APIV3_KEY and MCHID  # the fake's, used throughout


def test_on_platform_certificates_they_are_downloaded_from_the_configured_base_url(
    app, client, fake, resident, parking, settings, pay_keys, tmp_path
):
    """The older verification mode: the SDK downloads the platform certificates while it is built — from the
    fake, not from api.mch.weixin.qq.com — keeps them in the folder, and verifies answers and notifies with them."""
    for name, value in pay_keys.certificate_settings(fake.url, tmp_path / "certs").items():
        setattr(settings, name, value)
    fake.serial = pay_keys.certificate_serial
    order = sell(app, resident, 1500)

    paid_through_notify(client, fake, resident, order)

    assert len(fake.calls("/v3/certificates")) == 1
    assert (tmp_path / "certs" / f"{pay_keys.certificate_serial}.pem").is_file()
    assert order_row(order.id).status == OrderStatus.PAID and parking.paid == [order.id]
    forged = post_notify(client, fake.payment_notify(order.out_trade_no, signer=OTHER_KEY))
    assert forged.status_code == 401


def test_every_call_goes_to_the_configured_base_url_with_the_sdk_host_replaced(pay_keys):
    from api.payments.gateway import LiveGateway

    settings = Settings.from_env({**pay_keys.env("http://egress-proxy.internal:8080/")})
    gateway = LiveGateway(settings)
    assert gateway.client._core._gate_way == "http://egress-proxy.internal:8080"
