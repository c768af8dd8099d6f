"""Rehabilitation aids lending end to end with the parts a deployment runs: PostgreSQL, Redis, a real Celery worker
(`celery -A workers worker`, WeChat Pay pointed at the fake), the app served over HTTP on loopback.

Twenty residents ask for the station's last walker at the same moment: one has it, nineteen are told none is free,
and in SQL the walker is in one live loan. A son reserves a wheelchair for his mother and pays its deposit through
WeChat Pay (the fake's notify); staff hand it out; the worker's reminder reaches him before the due date; staff take
it back with a deduction for a broken brake, and the rest of the deposit reaches him through the worker's refund and
WeChat Pay's refund notify. The overdue job, run twice at once by the worker, tells the station's staff once.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select

from api.accounts.models import Area, AreaKind, Role, Room, User
from api.accounts.services import create_staff
from api.aids.models import AidItem, AidLoan, AidLocation, AidType, Condition
from api.auth import issue_access_token
from api.db import db, new_id
from api.eldercare.models import BindingStatus, Elder, ElderStatus, FamilyBinding
from api.extensions import celery
from api.notifications.models import Notification
from api.payments.models import PaymentOrder, PaymentRefund, RefundStatus
from tests.fake_wechatpay import FakeWechatPay
from tests.worker_support import SECRET_KEY, Worker, served_with_worker, wait_until

pytestmark = pytest.mark.services

RESIDENTS = 20
SETTLED = 30.0
STAFF_PASSWORD = "correct horse battery staple"


@dataclass
class Rig:
    app: Flask
    worker: Worker
    fake: FakeWechatPay
    base_url: str

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {**kwargs.pop("headers", {}), **({"Authorization": f"Bearer {token}"} if token else {})}
        return requests.request(method, self.base_url + path, headers=headers, timeout=30, **kwargs)

    def run_task(self, name: str, *args: Any) -> str:
        result = celery.tasks[name].apply_async(args=list(args))
        return self.worker.finished(result.id)


@pytest.fixture(scope="module")
def rig(pg_url: str, broker_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    folder = tmp_path_factory.mktemp("aids-worker")
    with served_with_worker(pg_url, broker_url, folder, "linli_aids") as (app, worker, fake, _keys, base_url):
        yield Rig(app, worker, fake, base_url)


def _station(rig: Rig) -> dict[str, Any]:
    """控江一村's service station with one walker and a wheelchair (200 元 deposit), 王阿婆 and her son, twenty
    residents, and the committee's staff member — made straight in the database (what is judged is the lending)."""
    with rig.app.app_context():
        top = Area(id=new_id(), kind=AreaKind.SUBDISTRICT, code="KJ", name="控江路街道", path="/KJ/")
        committee = Area(
            id=new_id(), kind=AreaKind.COMMITTEE, code="KJ01", name="控江一村居委会", parent_id=top.id, path="/KJ/KJ01/"
        )
        building = Area(
            id=new_id(),
            kind=AreaKind.BUILDING,
            code="KJ01-01-001",
            name="1号楼",
            parent_id=committee.id,
            path="/KJ/KJ01/KJ01-01-001/",
        )
        db.session.add_all([top, committee, building])
        db.session.flush()
        walker = AidType(id=new_id(), code="walker", name="助行器", deposit_fen=0, loan_days=30)
        wheelchair = AidType(id=new_id(), code="wheelchair", name="轮椅", deposit_fen=20000, loan_days=30)
        station = AidLocation(
            id=new_id(), area_id=committee.id, area_path=committee.path, name="控江一村社区服务站", address="12号楼底层"
        )
        db.session.add_all([walker, wheelchair, station])
        db.session.flush()
        items = {}
        for kind, tag in ((walker, "KJ01-WALKER-01"), (wheelchair, "KJ01-WHEELCHAIR-01")):
            item = AidItem(
                id=new_id(),
                type_id=kind.id,
                location_id=station.id,
                area_path=station.area_path,
                asset_tag=tag,
                condition=Condition.GOOD,
            )
            db.session.add(item)
            items[kind.code] = item.id
        room = Room(id=new_id(), building_id=building.id, number="101", floor=1)
        son = User(id=new_id(), nickname="张三", wechat_openid="o-aids-son")
        son.grant(Role.RESIDENT)
        db.session.add_all([room, son])
        db.session.flush()
        mother = Elder(id=new_id(), name="王阿婆", room_id=room.id, status=ElderStatus.ACTIVE)
        db.session.add(mother)
        db.session.flush()
        db.session.add(
            FamilyBinding(elder_id=mother.id, user_id=son.id, relation="子女", status=BindingStatus.CONFIRMED)
        )
        people = []
        for n in range(RESIDENTS):
            user = User(id=new_id(), nickname=f"居民{n}", wechat_openid=f"o-aids-{n}")
            user.grant(Role.RESIDENT)
            db.session.add(user)
            people.append(user)
        staff = create_staff("aids-kj01-e2e", STAFF_PASSWORD, Role.STAFF, "KJ01")
        db.session.commit()
        token = issue_access_token
        return {
            "walker": str(walker.id),
            "wheelchair": str(wheelchair.id),
            "station": str(station.id),
            "walker_item": items["walker"],
            "elder": str(mother.id),
            "son": token(son, secret=SECRET_KEY, ttl_seconds=3600),
            "son_id": son.id,
            "people": [token(p, secret=SECRET_KEY, ttl_seconds=3600) for p in people],
            "staff": token(staff, secret=SECRET_KEY, ttl_seconds=3600),
            "staff_id": staff.id,
        }


def _messages(user_id: uuid.UUID, kind: str) -> int:
    db.session.remove()
    return db.session.scalar(
        select(func.count()).select_from(Notification).where(Notification.user_id == user_id, Notification.kind == kind)
    )


def test_the_last_walker_the_deposit_through_wechat_pay_the_reminder_the_refund_and_the_overdue_bed(rig: Rig):
    world = _station(rig)
    with rig.worker.log_on_failure():
        # Twenty residents, the last walker, the same moment.
        start_line = threading.Barrier(RESIDENTS)
        body = {"type_id": world["walker"], "location_id": world["station"]}

        def reserve(token: str) -> int:
            with contextlib.suppress(threading.BrokenBarrierError):
                start_line.wait(timeout=10)
            answer = rig.call("POST", "/api/v1/aids/reservations", token, json=body)
            assert answer.status_code in (201, 409), answer.text
            if answer.status_code == 409:
                assert answer.json()["code"] == "aid_unavailable"
            return answer.status_code

        with ThreadPoolExecutor(max_workers=RESIDENTS) as pool:
            codes = list(pool.map(reserve, world["people"]))
        assert codes.count(201) == 1 and codes.count(409) == RESIDENTS - 1
        with rig.app.app_context():
            live = db.session.scalar(
                select(func.count())
                .select_from(AidLoan)
                .where(AidLoan.item_id == world["walker_item"], AidLoan.status.in_(("reserved", "lent")))
            )
            assert live == 1

        # The son reserves the wheelchair for his mother and pays the deposit in WeChat Pay.
        made = rig.call(
            "POST",
            "/api/v1/aids/reservations",
            world["son"],
            json={"type_id": world["wheelchair"], "location_id": world["station"], "elder_id": world["elder"]},
            headers={"Idempotency-Key": "son-wheelchair"},
        )
        assert made.status_code == 201, made.text
        loan = made.json()
        assert rig.call("POST", f"/api/v1/payments/{loan['order_id']}/prepay", world["son"]).status_code == 200
        with rig.app.app_context():
            out_trade_no = db.session.get(PaymentOrder, uuid.UUID(loan["order_id"])).out_trade_no
        notified = FakeWechatPay.send(rig.fake.pay(out_trade_no), rig.base_url + "/api/v1/payments/wechat/notify")
        assert notified.status_code == 204, notified.text
        assert rig.call("GET", f"/api/v1/aids/loans/{loan['id']}", world["son"]).json()["deposit_paid"] is True

        lent = rig.call(
            "POST",
            f"/api/v1/admin/aids/loans/{loan['id']}/lend",
            world["staff"],
            json={"condition_note": "车况完好"},
        )
        assert lent.status_code == 200, lent.text
        due = datetime.fromisoformat(lent.json()["due_at"])

        # The worker's reminder, a day before the due date.
        assert rig.run_task("aids.remind_due", (due - timedelta(days=1)).isoformat()) == "1"
        with rig.app.app_context():
            assert _messages(world["son_id"], "aid_due_soon") == 1

        # The overdue job, twice at once through the worker: the station's staff are told once.
        later = (due + timedelta(hours=1)).isoformat()
        first = celery.tasks["aids.escalate_overdue"].apply_async(args=[later])
        second = celery.tasks["aids.escalate_overdue"].apply_async(args=[later])
        results = sorted([rig.worker.finished(first.id), rig.worker.finished(second.id)])
        assert results == ["0", "1"], results
        with rig.app.app_context():
            assert _messages(world["staff_id"], "aid_overdue_staff") == 1

        # Back with a broken brake: 50 元 kept, 150 元 refunded through the worker and WeChat Pay.
        back = rig.call(
            "POST",
            f"/api/v1/admin/aids/loans/{loan['id']}/return",
            world["staff"],
            json={"damaged": True, "deduction_fen": 5000, "deduction_reason": "刹车损坏", "condition_note": "刹车失灵"},
            headers={"Idempotency-Key": "return-1"},
        )
        assert back.status_code == 200, back.text
        assert back.json()["refund_fen"] == 15000
        again = rig.call(
            "POST",
            f"/api/v1/admin/aids/loans/{loan['id']}/return",
            world["staff"],
            json={"damaged": True, "deduction_fen": 5000, "deduction_reason": "刹车损坏", "condition_note": "刹车失灵"},
            headers={"Idempotency-Key": "return-1"},
        )
        assert again.status_code == 200 and again.json() == back.json()  # a retry: the first answer, no second refund

        def refund(status: RefundStatus) -> PaymentRefund | None:
            with rig.app.app_context():
                db.session.remove()
                row = db.session.scalar(
                    select(PaymentRefund).where(PaymentRefund.order_id == uuid.UUID(loan["order_id"]))
                )
                return row if row is not None and row.status == status else None

        sent = wait_until(lambda: refund(RefundStatus.PROCESSING), SETTLED, "the refund sent to WeChat Pay", rig.worker)
        answer = FakeWechatPay.send(
            rig.fake.finish_refund(sent.out_refund_no), rig.base_url + "/api/v1/payments/wechat/refund-notify"
        )
        assert answer.status_code == 204, answer.text
        settled = wait_until(lambda: refund(RefundStatus.SUCCEEDED), SETTLED, "the refund settled", rig.worker)
        assert settled.amount_fen == 15000
        with rig.app.app_context():
            refunds = db.session.scalar(select(func.count()).select_from(PaymentRefund))
            assert refunds == 1
            assert _messages(world["son_id"], "aid_returned") == 1
