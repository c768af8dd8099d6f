"""How payments will be judged, end to end with the parts a deployment runs: a resident pays (a test purpose
stands in for parking), is refunded in two parts, and every amount in our tables, in WeChat Pay's ledger (the
fake's) and in the reconciliation agrees to the fen.

The web app is served over HTTP on loopback (WeChat Pay's notifies arrive as real POSTs from the fake); a real
Celery worker (`celery -A workers worker`, only a deployment's environment: PostgreSQL, Redis, the WeChat Pay
settings pointed at the fake) submits the refunds the staff route hands over after its commit, runs the beat's
lost-notify query, and the daily reconciliation.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from flask import Flask
from sqlalchemy import func, select

from api.accounts.models import Role, User
from api.accounts.services import create_staff
from api.db import db, utcnow
from api.extensions import celery
from api.fields import LOCAL_TZ
from api.payments import services, signals
from api.payments.models import (
    OrderStatus,
    PaidVia,
    PaymentDiscrepancy,
    PaymentOrder,
    PaymentReconciliation,
    PaymentRefund,
    RefundStatus,
)
from tests.fake_wechatpay import FakeWechatPay, TestKeys
from tests.worker_support import (
    Worker,
    served_with_worker,
    wait_until,
)

pytestmark = pytest.mark.services

STAFF_PASSWORD = "correct horse battery staple"
SETTLED = 20  # the worker answers within a second; this is only the limit of patience


@dataclass
class Rig:
    app: Flask
    worker: Worker
    fake: FakeWechatPay
    keys: TestKeys
    base_url: str

    def post(
        self, path: str, token: str | None = None, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> requests.Response:
        sent = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
        return requests.post(self.base_url + path, headers=sent, timeout=10, **kwargs)

    def get(self, path: str, token: str) -> requests.Response:
        return requests.get(self.base_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def run_task(self, name: str, *args: Any) -> str:
        """Send a task through the broker, as beat would, and what the worker's log says it returned."""
        result = celery.tasks[name].apply_async(args=list(args))
        return self.worker.finished(result.id)

    def order(self, order_id: uuid.UUID) -> PaymentOrder:
        with self.app.app_context():
            order = db.session.get(PaymentOrder, order_id)
            assert order is not None
            order.refunds  # noqa: B018 (loaded before the session goes)
            return order


@pytest.fixture(scope="module")
def rig(pg_url: str, broker_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    folder = tmp_path_factory.mktemp("payments-worker")
    with served_with_worker(pg_url, broker_url, folder, "linli_pay") as (app, worker, fake, keys, base_url):
        yield Rig(app, worker, fake, keys, base_url)


@pytest.fixture
def told() -> Iterator[dict[str, list[Any]]]:
    """The test purpose's receivers in the web process (where WeChat Pay's notifies arrive)."""
    heard: dict[str, list[Any]] = {"paid": [], "refunded": []}

    def on_paid(order: PaymentOrder, **_: Any) -> None:
        if order.purpose == "test_parking":
            heard["paid"].append(order.id)

    def on_refunded(refund: PaymentRefund, **_: Any) -> None:
        if refund.order.purpose == "test_parking":
            heard["refunded"].append(refund.amount_fen)

    signals.payment_succeeded.connect(on_paid)
    signals.refund_succeeded.connect(on_refunded)
    try:
        yield heard
    finally:
        signals.payment_succeeded.disconnect(on_paid)
        signals.refund_succeeded.disconnect(on_refunded)


def login(rig: Rig, path: str, body: dict[str, str]) -> dict[str, Any]:
    answer = rig.post(path, json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def sell(rig: Rig, payer_id: uuid.UUID, amount_fen: int) -> PaymentOrder:
    with rig.app.app_context():
        order = services.create_order(
            db.session.get(User, payer_id),
            "test_parking",
            f"booking-{uuid.uuid4().hex[:8]}",
            amount_fen,
            "控江二村共享车位 包月",
            timedelta(minutes=30),
            area_path="/KJ/",
        )
        db.session.commit()
        return order


def pay_sign_verifies(keys: TestKeys, params: dict[str, str]) -> bool:
    message = "\n".join([params["appId"], params["timeStamp"], params["nonceStr"], params["package"]]) + "\n"
    try:
        keys.merchant.public_key().verify(
            base64.b64decode(params["paySign"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except Exception:
        return False
    return True


def refund_settled(rig: Rig, refund_id: str, status: RefundStatus) -> PaymentRefund:
    def look() -> PaymentRefund | None:
        with rig.app.app_context():
            row = db.session.get(PaymentRefund, uuid.UUID(refund_id))
            return row if row is not None and row.status == status else None

    return wait_until(look, SETTLED, f"refund {refund_id} to be {status.value}", rig.worker)


def test_a_resident_pays_is_refunded_in_two_parts_and_every_amount_agrees_to_the_fen(rig: Rig, told):
    resident = login(rig, "/api/v1/auth/wechat-login", {"code": f"zhangsan#{uuid.uuid4().hex}"})
    with rig.app.app_context():
        finance = create_staff("qian-finance-e2e", STAFF_PASSWORD, Role.ADMIN, None)  # the whole subdistrict
        finance.grant(Role.FINANCE)
        db.session.commit()
    staff = login(rig, "/api/v1/auth/staff-login", {"username": "qian-finance-e2e", "password": STAFF_PASSWORD})
    token, staff_token = resident["access_token"], staff["access_token"]
    # Every trade at noon today (Shanghai): the bill's day does not change under a test run at midnight.
    today = utcnow().astimezone(LOCAL_TZ).date()
    rig.fake.trade_time = datetime.combine(today, datetime.min.time(), tzinfo=LOCAL_TZ).replace(hour=12)

    # The resident pays 30.00 yuan for a month of shared parking.
    with rig.worker.log_on_failure():
        order = sell(rig, uuid.UUID(resident["user"]["id"]), 3000)
        params = rig.post(f"/api/v1/payments/{order.id}/prepay", token)
        assert params.status_code == 200, params.text
        assert params.json()["sandbox"] is False and pay_sign_verifies(rig.keys, params.json())
        delivered = FakeWechatPay.send(
            rig.fake.pay(order.out_trade_no), rig.base_url + "/api/v1/payments/wechat/notify"
        )
        assert delivered.status_code == 204, delivered.text
        assert rig.order(order.id).status == OrderStatus.PAID and told["paid"] == [order.id]

        # Refunded in two parts by finance: the worker hands each to WeChat Pay; WeChat Pay's notify settles it.
        refunds = []
        for amount, reason in ((1200, "提前退租 12 天"), (1800, "车位改造，余额全退")):
            made = rig.post(
                f"/api/v1/admin/payments/{order.id}/refunds",
                staff_token,
                json={"amount_fen": amount, "reason": reason},
                headers={"Idempotency-Key": f"refund-{amount}"},
            )
            assert made.status_code == 201, made.text
            number = made.json()["out_refund_no"]
            refund_settled(rig, made.json()["id"], RefundStatus.PROCESSING)
            notify = rig.fake.finish_refund(number)
            answer = FakeWechatPay.send(notify, rig.base_url + "/api/v1/payments/wechat/refund-notify")
            assert answer.status_code == 204, answer.text
            refunds.append(refund_settled(rig, made.json()["id"], RefundStatus.SUCCEEDED))
        too_much = rig.post(
            f"/api/v1/admin/payments/{order.id}/refunds", staff_token, json={"amount_fen": 1, "reason": "再退一分"}
        )
        assert too_much.status_code == 409 and too_much.json()["code"] == "refund_exceeds_paid"
        assert told["refunded"] == [1200, 1800]

        # Another order is paid while its notify is lost: the beat's query job finds it.
        lost = sell(rig, uuid.UUID(resident["user"]["id"]), 1800)
        assert rig.post(f"/api/v1/payments/{lost.id}/prepay", token).status_code == 200
        rig.fake.pay(lost.out_trade_no)
        later = (utcnow() + timedelta(minutes=10)).isoformat()
        assert rig.run_task("payments.query_unpaid", later) == "1"
        found = rig.order(lost.id)
        assert (found.status, found.paid_via) == (OrderStatus.PAID, PaidVia.QUERY)

        # The day is reconciled with WeChat Pay's bill.
        assert rig.run_task("payments.reconcile", today.isoformat()) == f"'{today}: 0 differences'"

    paid = rig.order(order.id)
    ledger = rig.fake.orders[order.out_trade_no]
    assert paid.amount_fen == ledger.total == 3000
    assert paid.transaction_id == ledger.transaction_id
    assert [r.amount_fen for r in paid.refunds] == [1200, 1800]
    assert [r.status for r in paid.refunds] == [RefundStatus.SUCCEEDED] * 2
    assert paid.refunded_fen == paid.refund_succeeded_fen == 3000
    assert sorted(r.amount for r in rig.fake.refunds.values()) == [1200, 1800]
    assert {r.out_refund_no for r in refunds} == set(rig.fake.refunds)
    with rig.app.app_context():
        day = db.session.scalar(select(PaymentReconciliation).where(PaymentReconciliation.bill_date == today))
        discrepancies = db.session.scalar(select(func.count()).select_from(PaymentDiscrepancy))
    assert day is not None and day.differences == 0 and discrepancies == 0
    assert day.our_payments_fen == day.bill_payments_fen == 3000 + 1800
    assert day.our_refunds_fen == day.bill_refunds_fen == 1200 + 1800
    assert (day.our_payments, day.bill_payments, day.our_refunds, day.bill_refunds) == (2, 2, 2, 2)

    # What the resident sees agrees as well.
    mine = rig.get(f"/api/v1/payments/{order.id}", token).json()
    assert (mine["amount_fen"], mine["refunded_fen"], mine["refund_pending_fen"]) == (3000, 3000, 0)
