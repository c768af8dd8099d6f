"""Message kinds of the events domain: the inbox text, the page each opens and the WeChat templates
(see `api.notifications.catalogue`); collected from the domain's manifest by `create_app`."""

from __future__ import annotations

from api.notifications.catalogue import MessageKind, Template

MESSAGES: tuple[MessageKind, ...] = (
    MessageKind(
        kind="booking_promoted",
        description="A waitlisted booking got a seat",
        title="候补成功：{event_title}",
        body="您候补的活动「{event_title}」已有名额，报名成功。活动时间：{starts_at_text}，地点：{venue}。",
        page="pages/events/booking?id={booking_id}",
        subscribe=Template(
            "linli-sub-booking-result",
            {"thing1": "{event_title}", "phrase2": "候补成功", "time3": "{starts_at}", "thing4": "{venue}"},
        ),
    ),
    MessageKind(
        kind="event_cancelled",
        description="An event the resident booked was cancelled",
        title="活动取消：{event_title}",
        body="很抱歉，您报名的活动「{event_title}」（{starts_at_text}）已取消。{reason}",
        page="pages/events/detail?id={event_id}",
        subscribe=Template(
            "linli-sub-event-cancelled", {"thing1": "{event_title}", "time2": "{starts_at}", "thing3": "{reason}"}
        ),
    ),
    MessageKind(
        kind="event_reminder",
        description="A reminder the day before and an hour before an event the resident booked",
        title="活动提醒：{event_title}",
        body="您报名的活动「{event_title}」将于{starts_at_text}在{venue}开始，请凭电子票入场。",
        page="pages/events/booking?id={booking_id}",
        subscribe=Template(
            "linli-sub-event-reminder", {"thing1": "{event_title}", "time2": "{starts_at}", "thing3": "{venue}"}
        ),
    ),
)
