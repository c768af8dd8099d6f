"""Message kinds of the elderly services domain: the inbox text, the page each opens and the WeChat templates
(see `api.notifications.catalogue`); collected from the domain's manifest by `create_app`.

The family hear of the visit at acceptance, at the door and when it is over (Official Account first: families
follow it for the elder's alarms; the subscribe message otherwise); nobody at the door is urgent. Staff hear of
no-shows, orders that need a person to dispatch them, welfare checks and disputes; a worker of an offer."""

from __future__ import annotations

from api.notifications.catalogue import MessageKind, Template
from api.notifications.models import Channel, Urgency

_ORDER = "pages/care/order?id={order_id}"
_ADMIN = "pages/admin/care/order?id={order_id}"
_WORKER = "pages/care/worker/order?id={order_id}"
_OA_FIRST = (Channel.OFFICIAL_ACCOUNT, Channel.SUBSCRIBE)
# Staff's welfare check and the family's word that the elder is safe go out on one subscribe template.
_WELFARE = Template(
    "linli-sub-care-welfare", {"thing1": "{elder_name}", "thing2": "{service_name}", "time3": "{window_start}"}
)

MESSAGES: tuple[MessageKind, ...] = (
    MessageKind(
        kind="care_order_accepted",
        description="A worker took an elder's service order (family and elder)",
        title="服务已接单：{service_name}",
        body="{elder_name} 的「{service_name}」（{window_start_text}）已由 {worker_name} 接单，将按时上门。",
        page=_ORDER,
        official_account=Template(
            "linli-oa-care-accepted",
            {
                "thing1": "{service_name}",
                "thing2": "{elder_name}",
                "time3": "{window_start}",
                "thing4": "{worker_name}",
            },
        ),
        subscribe=Template(
            "linli-sub-care-accepted",
            {
                "thing1": "{service_name}",
                "thing2": "{elder_name}",
                "time3": "{window_start}",
                "thing4": "{worker_name}",
            },
        ),
        channels=_OA_FIRST,
    ),
    MessageKind(
        kind="care_checked_in",
        description="The worker checked in at the elder's door with the service code",
        title="服务人员已上门：{service_name}",
        body="{worker_name} 已于 {at_text} 到达 {elder_name} 家，开始「{service_name}」。",
        page=_ORDER,
        official_account=Template(
            "linli-oa-care-checked-in",
            {"thing1": "{service_name}", "thing2": "{elder_name}", "thing3": "{worker_name}", "time4": "{at_text}"},
        ),
        subscribe=Template(
            "linli-sub-care-checked-in",
            {"thing1": "{service_name}", "thing2": "{elder_name}", "thing3": "{worker_name}", "phrase4": "已上门"},
        ),
        channels=_OA_FIRST,
    ),
    MessageKind(
        kind="care_awaiting_confirmation",
        description="The worker checked out: the family or elder confirms the service (or it confirms itself later)",
        title="服务已完成，请确认：{service_name}",
        body=(
            "{elder_name} 的「{service_name}」已完成，服务 {minutes} 分钟，个人自付 {self_pay_yuan} 元。"
            "请在小程序确认或评价，如有问题可申诉。"
        ),
        page=_ORDER,
        official_account=Template(
            "linli-oa-care-done",
            {
                "thing1": "{service_name}",
                "thing2": "{elder_name}",
                "number3": "{minutes}",
                "amount4": "{self_pay_yuan}",
            },
        ),
        subscribe=Template(
            "linli-sub-care-done",
            {
                "thing1": "{service_name}",
                "thing2": "{elder_name}",
                "number3": "{minutes}",
                "amount4": "{self_pay_yuan}",
            },
        ),
        channels=_OA_FIRST,
    ),
    MessageKind(
        kind="care_not_delivered",
        description="Nobody answered the elder's door at a service visit: the family is asked to check on them",
        title="上门未应答：{elder_name}",
        body=(
            "服务人员 {worker_name} 按约（{window_start_text}）上门为 {elder_name} 提供「{service_name}」，"
            "敲门无人应答。请尽快联系老人，确认安全后在小程序中报平安；{staff_after}。"
        ),
        page=_ORDER,
        urgency=Urgency.HIGH,
        official_account=Template(
            "linli-oa-care-no-answer",
            {
                "thing1": "{elder_name}",
                "thing2": "{service_name}",
                "time3": "{window_start}",
                "thing4": "请尽快联系老人",
            },
        ),
        subscribe=Template(
            "linli-sub-care-no-answer",
            {
                "thing1": "{elder_name}",
                "thing2": "{service_name}",
                "time3": "{window_start}",
                "thing4": "请尽快联系老人",
            },
        ),
        channels=_OA_FIRST,
    ),
    MessageKind(
        kind="care_order_cancelled",
        description="An order a worker had accepted was cancelled (to the worker)",
        title="订单已取消：{service_name}",
        body="{elder_name} 的「{service_name}」（{window_start_text}）已取消：{reason}",
        page=_WORKER,
        subscribe=Template(
            "linli-sub-care-cancelled", {"thing1": "{service_name}", "time2": "{window_start}", "thing3": "{reason}"}
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="care_order_offered",
        description="Staff offered an order to a worker, to accept or decline before the offer expires",
        title="新的派单：{service_name}",
        body="工作人员向您派发 {elder_name} 的「{service_name}」（{window_start_text}），请尽快接单或拒绝。",
        page=_WORKER,
        subscribe=Template(
            "linli-sub-care-offered", {"thing1": "{service_name}", "time2": "{window_start}", "time3": "{expires_at}"}
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="care_order_escalated",
        description="An order was declined or not answered too often: staff dispatch it",
        title="订单待人工派单：{service_name}",
        body="{elder_name} 的「{service_name}」（{window_start_text}）已被拒绝或超时 {tries} 次，请人工派单。",
        page=_ADMIN,
        subscribe=Template(
            "linli-sub-care-escalated",
            {"thing1": "{service_name}", "thing2": "{elder_name}", "time3": "{window_start}"},
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="care_provider_no_show",
        description="No worker checked in by the window start + grace: the order is back in dispatch",
        title="服务人员未到岗：{elder_name}",
        body=(
            "{elder_name} 的「{service_name}」（{window_start_text}）服务人员 {no_show_worker} 未按时签到，"
            "订单已退回派单池，请尽快安排。"
        ),
        page=_ADMIN,
        urgency=Urgency.HIGH,
        subscribe=Template(
            "linli-sub-care-no-show", {"thing1": "{service_name}", "thing2": "{elder_name}", "time3": "{window_start}"}
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="care_welfare_check",
        description="Nobody answered an elder's door and no family member reported them safe in time: staff check",
        title="请关注老人安全：{elder_name}",
        body=(
            "{elder_name} 的「{service_name}」（{window_start_text}）上门无人应答（{note}），"
            "家属尚未确认老人安全，请跟进。"
        ),
        page=_ADMIN,
        urgency=Urgency.HIGH,
        subscribe=_WELFARE,
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="care_welfare_safe",
        description="The family reached an elder after nobody answered the door: staff need not check any more",
        title="家属已确认老人安全：{elder_name}",
        body="{elder_name} 的「{service_name}」（{window_start_text}）上门无人应答后，家属已联系上老人：{note}",
        page=_ADMIN,
        subscribe=_WELFARE,
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="care_review_needed",
        description="A subsidised (保底) order waits for staff's eligibility review before dispatch",
        title="待资格审核：{service_name}",
        body="{elder_name} 的「{service_name}」（{window_start_text}，{tier_text}）待资格审核，审核通过后进入派单。",
        page=_ADMIN,
        subscribe=Template(
            "linli-sub-care-review", {"thing1": "{service_name}", "thing2": "{elder_name}", "time3": "{window_start}"}
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="care_dispute_opened",
        description="The family disputed a service: staff resolve it (adjust, void, redo)",
        title="服务申诉：{service_name}",
        body="{elder_name} 的「{service_name}」（{window_start_text}）有申诉：{reason}",
        page=_ADMIN,
        subscribe=Template(
            "linli-sub-care-dispute", {"thing1": "{service_name}", "thing2": "{elder_name}", "thing3": "{reason}"}
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
)
