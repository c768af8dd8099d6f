"""Message kinds of the parking domain: the inbox text, the page each opens and the WeChat templates
(see `api.notifications.catalogue`); collected from the domain's manifest by `create_app`."""

from __future__ import annotations

from api.notifications.catalogue import MessageKind, Template
from api.notifications.models import Channel

_BOOKING = "pages/parking/booking?id={booking_id}"

MESSAGES: tuple[MessageKind, ...] = (
    MessageKind(
        kind="parking_booking_confirmed",
        description="A shared-parking booking is confirmed (paid, or free)",
        title="车位预约成功：{lot_name}",
        body=(
            "您已预约「{lot_name}」{space_code} 车位，{starts_at_text} 至 {ends_at_text}，车牌 {plate}。"
            "入场时道闸自动识别车牌。"
        ),
        page=_BOOKING,
        subscribe=Template(
            "linli-sub-parking-booked",
            {"thing1": "{lot_name}", "car_number2": "{plate}", "time3": "{starts_at}", "time4": "{ends_at}"},
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="parking_booking_cancelled",
        description="A booking was cancelled by the lender, staff or the system; the driver is refunded",
        title="车位预约已取消：{lot_name}",
        body="您在「{lot_name}」{starts_at_text} 的车位预约已取消（{reason}）。{refund_text}",
        page=_BOOKING,
        subscribe=Template(
            "linli-sub-parking-cancelled", {"thing1": "{lot_name}", "time2": "{starts_at}", "thing3": "{reason}"}
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="parking_overstay_warning",
        description="A booking ends in 15 minutes while the car is still parked: extend, or pay overstay",
        title="停车即将到期：{lot_name}",
        body=(
            "您在「{lot_name}」的预约将于 {ends_at_text} 到期。如需继续停放请在小程序续时；"
            "超时每开始一小时按 {overstay_yuan} 元计费。"
        ),
        page=_BOOKING,
        subscribe=Template(
            "linli-sub-parking-expiring", {"thing1": "{lot_name}", "time2": "{ends_at}", "thing3": "可在小程序续时"}
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="parking_no_show",
        description="Nobody came to a booked space in time: it was released",
        title="预约未到场：{lot_name}",
        body=(
            "您在「{lot_name}」{starts_at_text} 的车位预约超过 {minutes} 分钟未入场，"
            "车位已释放，费用按预约规则不予退还。"
        ),
        page=_BOOKING,
        channels=(),
    ),
    MessageKind(
        kind="parking_space_moved",
        description="The driver's booked space was occupied: they got another space",
        title="已为您更换车位：{space_code}",
        body="您预约的车位被占用，已为您更换为「{lot_name}」{space_code} 车位，时段不变，费用不变。",
        page=_BOOKING,
        channels=(),
    ),
    MessageKind(
        kind="parking_session_bill",
        description="A stay ended with something to pay (overstay, extension, unbooked time)",
        title="停车费用待支付：{amount_yuan} 元",
        body=(
            "您在「{lot_name}」的停车（{entered_at_text} 至 {exited_at_text}）产生费用 {amount_yuan} 元："
            "{detail}。请在小程序支付。"
        ),
        page="pages/parking/session?id={session_id}",
        channels=(),
    ),
    MessageKind(
        kind="parking_offer_decided",
        description="Staff approved or rejected a lender's sharing offer",
        title="共享车位申请{decision}：{lot_name}",
        body="您在「{lot_name}」的错峰共享申请已{decision}。{reason}",
        page="pages/parking/lender",
        channels=(),
    ),
)
