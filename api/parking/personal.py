"""What parking holds about a person: their vehicles and plates, driving-licence photo, quotes, bookings,
passes and stays (with their plates), what they lend (spaces, offers), and staff's decisions on them.

Erasure: vehicles and quotes go; bookings, passes, stays and camera records stay for the lot's accounts and
statistics (times, amounts, which space) without the person — no user id, no plate. A live booking or pass
(held, confirmed, in progress, active), a car still inside, or an unpaid stay blocks the deletion until it
is over or settled: erasing it would let a stranger's car through the gate, or a debt vanish. A lender's
spaces stay the lot's, without a lender."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select, update

from api.accounts.models import User
from api.db import db
from api.parking.models import (
    Anomaly,
    Booking,
    BookingStatus,
    ParkingPass,
    ParkingSession,
    ParkingSpace,
    Passage,
    PassStatus,
    Quote,
    SessionStatus,
    SharingOffer,
    Vehicle,
)
from api.payments.models import OrderStatus, PaymentOrder
from api.personaldata import PersonalData, forget, record

personal_data = PersonalData(
    categories=("车辆与车牌", "停车预约、包月与停车记录", "共享车位出借"),
    covers=(
        "parking_vehicles.owner_id",
        "parking_vehicles.plate",
        "parking_vehicles.verified_by_id",
        "parking_vehicles.reject_reason",
        "parking_quotes.user_id",
        "parking_bookings.user_id",
        "parking_bookings.plate",
        "parking_bookings.lender_id",
        "parking_bookings.cancel_reason",
        "parking_passes.user_id",
        "parking_passes.plate",
        "parking_sessions.user_id",
        "parking_sessions.plate",
        "parking_passages.plate",
        "parking_spaces.lender_id",
        "parking_offers.lender_id",
        "parking_offers.note",
        "parking_offers.decided_by_id",
        "parking_offers.reject_reason",
        "parking_anomalies.plate",
        "parking_anomalies.reported_by_id",
        "parking_anomalies.resolved_by_id",
        "parking_anomalies.resolution_note",
    ),
    export="api.parking.personal:export",
    erase="api.parking.personal:erase",
    blockers="api.parking.personal:blockers",
    photos="api.parking.personal:photos",
)


def _plates(user: User) -> list[str]:
    return list(db.session.scalars(select(Vehicle.plate).where(Vehicle.owner_id == user.id)))


def export(user: User) -> dict[str, Any]:
    vehicles = db.session.scalars(select(Vehicle).where(Vehicle.owner_id == user.id).order_by(Vehicle.id))
    bookings = db.session.scalars(select(Booking).where(Booking.user_id == user.id).order_by(Booking.id))
    passes = db.session.scalars(select(ParkingPass).where(ParkingPass.user_id == user.id).order_by(ParkingPass.id))
    stays = db.session.scalars(
        select(ParkingSession).where(ParkingSession.user_id == user.id).order_by(ParkingSession.id)
    )
    offers = db.session.scalars(select(SharingOffer).where(SharingOffer.lender_id == user.id).order_by(SharingOffer.id))
    return {
        "vehicles": [record(v, "plate", "new_energy", "verification", "created_at", "removed_at") for v in vehicles],
        "bookings": [
            {"lot": b.lot.name, **record(b, "plate", "starts_at", "ends_at", "status", "price_fen", "refund_fen")}
            for b in bookings
        ],
        "passes": [
            {"lot": p.lot.name, **record(p, "plate", "window_start", "window_end", "starts_on", "ends_on", "status")}
            for p in passes
        ],
        "stays": [
            {"lot": s.lot.name, **record(s, "plate", "entered_at", "exited_at", "charge_fen", "charge_detail")}
            for s in stays
        ],
        "sharing_offers": [{"lot": o.lot.name, **record(o, "rules", "blocked_dates", "status")} for o in offers],
    }


def photos(user: User) -> list[Any]:
    from api.media.models import Media

    ids = [v for v in db.session.scalars(select(Vehicle.licence_media_id).where(Vehicle.owner_id == user.id)) if v]
    return list(db.session.scalars(select(Media).where(Media.id.in_(ids)))) if ids else []


def blockers(user: User) -> list[dict[str, Any]]:
    reasons = []
    live = db.session.scalar(
        select(Booking.area_path)
        .where(
            Booking.user_id == user.id,
            Booking.status.in_((BookingStatus.HELD, BookingStatus.CONFIRMED, BookingStatus.IN_PROGRESS)),
        )
        .limit(1)
    )
    if live is not None:
        reasons.append({"reason": "您有进行中的停车预约，请取消或待其结束后再注销", "area_path": live})
    pass_path = db.session.scalar(
        select(ParkingPass.area_path)
        .where(ParkingPass.user_id == user.id, ParkingPass.status.in_((PassStatus.HELD, PassStatus.ACTIVE)))
        .limit(1)
    )
    if pass_path is not None:
        reasons.append({"reason": "您有有效的错峰包月，请待其到期后再注销", "area_path": pass_path})
    owing = db.session.scalar(
        select(ParkingSession.area_path)
        .outerjoin(PaymentOrder, PaymentOrder.id == ParkingSession.order_id)
        .where(
            ParkingSession.user_id == user.id,
            or_(ParkingSession.status == SessionStatus.OPEN, PaymentOrder.status == OrderStatus.PENDING),
        )
        .limit(1)
    )
    if owing is not None:
        reasons.append({"reason": "您有未结束的停车或未支付的停车费，请先结清后再注销", "area_path": owing})
    return reasons


def erase(user: User) -> None:
    plates = _plates(user)
    # The car's records stay for the lot's accounts, without the plate that names its owner.
    if plates:
        db.session.execute(update(Passage).where(Passage.plate.in_(plates)).values(plate=None))
        db.session.execute(update(Anomaly).where(Anomaly.plate.in_(plates)).values(plate=None))
        db.session.execute(update(ParkingSession).where(ParkingSession.plate.in_(plates)).values(plate=None))
    db.session.execute(
        update(Booking).where(Booking.user_id == user.id).values(user_id=None, plate=None, vehicle_id=None)
    )
    db.session.execute(
        update(ParkingPass).where(ParkingPass.user_id == user.id).values(user_id=None, plate=None, vehicle_id=None)
    )
    db.session.execute(update(ParkingSession).where(ParkingSession.user_id == user.id).values(user_id=None, plate=None))
    db.session.execute(delete(Quote).where(Quote.user_id == user.id))
    db.session.execute(delete(Vehicle).where(Vehicle.owner_id == user.id))
    forget(Vehicle.verified_by_id, user.id)
    forget(Booking.lender_id, user.id)
    forget(ParkingSpace.lender_id, user.id)
    db.session.execute(update(SharingOffer).where(SharingOffer.lender_id == user.id).values(lender_id=None, note=""))
    forget(SharingOffer.decided_by_id, user.id)
    forget(Anomaly.reported_by_id, user.id)
    forget(Anomaly.resolved_by_id, user.id)
    db.session.flush()
