"""Error codes of the events domain: code -> (HTTP status, Chinese message, English message)."""

from __future__ import annotations

ERRORS: dict[str, tuple[int, str, str]] = {
    "event_cancelled": (409, "该活动已取消", "This event was cancelled"),
    "event_past": (409, "该活动已开始或已结束", "This event has already started or ended"),
    "booking_not_open": (409, "报名尚未开始，开始时间：{opens}", "Booking opens at {opens}"),
    "booking_closed": (409, "报名已截止", "Booking is closed"),
    "event_full": (409, "名额已满，候补名单也已满", "The event and its waitlist are full"),
    "party_too_large": (422, "每个报名最多 {limit} 人（含同行人）", "At most {limit} people per booking"),
    "not_eligible": (
        403,
        "您不符合该活动的报名条件",
        "You do not meet this event's eligibility rules",
    ),
    "booking_suspended": (
        403,
        "您近期有 {limit} 次报名后未到场，{until} 前暂不能报名",
        "You missed {limit} booked events recently; you can book again after {until}",
    ),
    "booking_checked_in": (409, "已签到的报名不能取消", "A checked-in booking cannot be cancelled"),
    "cancel_too_late": (409, "已过取消截止时间（{cutoff}）", "The cancellation deadline ({cutoff}) has passed"),
    "capacity_below_bookings": (
        409,
        "名额不能少于已报名人数（{taken}）",
        "Capacity cannot be below the seats already booked ({taken})",
    ),
    "ticket_invalid": (422, "无效的电子票", "This ticket is not valid"),
    "ticket_other_event": (409, "这是其他活动（{event}）的电子票", "This ticket is for another event ({event})"),
    "ticket_not_confirmed": (409, "该报名未确认（{state}），不能签到", "This booking is not confirmed ({state})"),
    "ticket_used": (409, "该电子票已于 {at} 签到", "This ticket was already used at {at}"),
}
