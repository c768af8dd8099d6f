"""Message kinds of rehabilitation aids lending (see `api.notifications.catalogue`): a reservation held at the
station, the hand-out, the reminder before the due date, an overdue loan (to the borrower, and to the station's
staff), the return and its deposit, an expired reservation, and an aid come back for someone waiting."""

from __future__ import annotations

from api.notifications.catalogue import MessageKind, Template
from api.notifications.models import Channel

_LOAN = "pages/aids/loan?id={loan_id}"

MESSAGES: tuple[MessageKind, ...] = (
    MessageKind(
        kind="aid_reserved",
        description="An aid is reserved and held at the station for pick-up",
        title="辅具预约成功：{type_name}",
        body=(
            "已为{for_whom}预约{type_name}（{asset_tag}），请于 {hold_until_text} 前到「{location_name}」领取。"
            "{deposit_text}"
        ),
        page=_LOAN,
        subscribe=Template(
            "linli-sub-aid-reserved",
            {"thing1": "{type_name}", "thing2": "{location_name}", "time3": "{hold_until}"},
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="aid_lent",
        description="Staff handed out an aid; it is due back on a date",
        title="辅具已领取：{type_name}",
        body="{for_whom}已在「{location_name}」领取{type_name}（{asset_tag}），请于 {due_at_text} 前归还。",
        page=_LOAN,
        channels=(),
    ),
    MessageKind(
        kind="aid_due_soon",
        description="A lent aid is due back in a few days (renewable once when nobody waits)",
        title="辅具即将到期：{type_name}",
        body=(
            "{for_whom}借用的{type_name}将于 {due_at_text} 到期，请按时归还到「{location_name}」；"
            "如需继续使用可在小程序续借一次。"
        ),
        page=_LOAN,
        subscribe=Template(
            "linli-sub-aid-due",
            {"thing1": "{type_name}", "time2": "{due_at}", "thing3": "{location_name}"},
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="aid_overdue",
        description="A lent aid is past its due date: the borrower is asked to return it",
        title="辅具已逾期：{type_name}",
        body=(
            "{for_whom}借用的{type_name}已于 {due_at_text} 到期，请尽快归还到「{location_name}」，"
            "服务站工作人员会与您联系。"
        ),
        page=_LOAN,
        subscribe=Template(
            "linli-sub-aid-overdue",
            {"thing1": "{type_name}", "time2": "{due_at}", "thing3": "{location_name}"},
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="aid_overdue_staff",
        description="A lent aid of the station is overdue: the station's staff follow it up",
        title="辅具逾期未还：{type_name} {asset_tag}",
        body="「{location_name}」的{type_name}（{asset_tag}）已于 {due_at_text} 到期未还，请联系借用人跟进。",
        page="pages/admin/aids/loan?id={loan_id}",
        channels=(),
    ),
    MessageKind(
        kind="aid_returned",
        description="An aid came back; the deposit (less any deduction) is refunded",
        title="辅具已归还：{type_name}",
        body="{type_name}（{asset_tag}）已于 {returned_at_text} 归还「{location_name}」。{refund_text}",
        page=_LOAN,
        subscribe=Template(
            "linli-sub-aid-returned",
            {"thing1": "{type_name}", "time2": "{returned_at}", "thing3": "{refund_short}"},
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="aid_reservation_ended",
        description="A reservation ended without a hand-out (not picked up in time, deposit unpaid, or cancelled)",
        title="辅具预约已结束：{type_name}",
        body="{for_whom}在「{location_name}」预约的{type_name}已{reason}。{refund_text}",
        page=_LOAN,
        channels=(),
    ),
    MessageKind(
        kind="aid_available",
        description="An aid a resident waits for is back at the station",
        title="辅具可预约：{type_name}",
        body="您等候的{type_name}在「{location_name}」已有可借，请尽快在小程序预约。",
        page="pages/aids/index?type_id={type_id}&location_id={location_id}",
        subscribe=Template(
            "linli-sub-aid-available",
            {"thing1": "{type_name}", "thing2": "{location_name}"},
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
)
