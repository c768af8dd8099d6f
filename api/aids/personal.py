"""What aids lending holds about a person: the loans they asked for (for themselves or an elder they look after)
with the staff's condition notes, and their waits for an aid; for staff, the hand-outs and returns they recorded.

Erasure: waits go; loans stay for the station's stock records and the deposit's accounts (which item, when,
the condition, the money) without the person who asked. A live loan — an aid reserved or still out — blocks the
deletion until it is returned or cancelled: the aid is the community's, and its deposit the person's."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update

from api.accounts.models import User
from api.aids.models import LIVE_LOAN, AidLoan, AidWait
from api.db import db
from api.personaldata import PersonalData, forget, record

personal_data = PersonalData(
    categories=("康复辅具预约与借用记录", "辅具等候登记"),
    covers=(
        "aid_loans.user_id",
        "aid_loans.elder_id",
        "aid_loans.lent_by_id",
        "aid_loans.lend_note",
        "aid_loans.returned_by_id",
        "aid_loans.return_note",
        "aid_loans.deduction_reason",
        "aid_loans.cancel_reason",
        "aid_waits.user_id",
    ),
    export="api.aids.personal:export",
    erase="api.aids.personal:erase",
    blockers="api.aids.personal:blockers",
)


def export(user: User) -> dict[str, Any]:
    loans = db.session.scalars(select(AidLoan).where(AidLoan.user_id == user.id).order_by(AidLoan.id))
    waits = db.session.scalars(select(AidWait).where(AidWait.user_id == user.id).order_by(AidWait.id))
    return {
        "loans": [
            {
                "type": loan.item.type.name,
                "asset_tag": loan.item.asset_tag,
                "station": loan.item.location.name,
                "for_elder": loan.elder_id is not None,
                **record(
                    loan,
                    "status",
                    "reserved_at",
                    "lent_at",
                    "due_at",
                    "renewals",
                    "returned_at",
                    "lend_note",
                    "return_note",
                    "damaged",
                    "deposit_fen",
                    "deduction_fen",
                    "deduction_reason",
                    "refund_fen",
                    "cancel_reason",
                ),
            }
            for loan in loans
        ],
        "waits": [record(w, "type_id", "location_id", "created_at", "notified_at", "ended_at") for w in waits],
    }


def blockers(user: User) -> list[dict[str, Any]]:
    live = db.session.scalar(
        select(AidLoan.area_path).where(AidLoan.user_id == user.id, AidLoan.status.in_(LIVE_LOAN)).limit(1)
    )
    if live is None:
        return []
    return [{"reason": "您有待领取或未归还的康复辅具，请归还或取消预约后再注销", "area_path": live}]


def erase(user: User) -> None:
    db.session.execute(delete(AidWait).where(AidWait.user_id == user.id))
    db.session.execute(update(AidLoan).where(AidLoan.user_id == user.id).values(user_id=None))
    forget(AidLoan.lent_by_id, user.id)
    forget(AidLoan.returned_by_id, user.id)
    db.session.flush()
