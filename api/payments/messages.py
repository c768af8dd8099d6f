"""Message kinds of the payments domain: the inbox text, the page each opens and the WeChat templates
(see `api.notifications.catalogue`); collected from the domain's manifest by `create_app`."""

from __future__ import annotations

from api.notifications.catalogue import MessageKind, Template
from api.notifications.models import Channel

MESSAGES: tuple[MessageKind, ...] = (
    MessageKind(
        kind="payment_refunded",
        description="A refund of the resident's payment reached them",
        title="退款成功：{amount_yuan}元",
        body="您支付的「{description}」已退款 {amount_yuan} 元，将原路退回您的微信支付账户。{reason}",
        page="pages/payments/detail?id={order_id}",
        subscribe=Template(
            "linli-sub-payment-refunded",
            {"thing1": "{description}", "amount2": "{amount_yuan}", "thing3": "{reason}", "time4": "{refunded_at}"},
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="payment_refunded_late",
        description="The resident paid for an order that had already closed: the money goes back",
        title="订单已关闭，款项将退回",
        body=(
            "您为「{description}」支付的 {amount_yuan} 元到账时订单已关闭（{closed_reason}），"
            "款项将全额原路退回，一般 1–3 个工作日到账。"
        ),
        page="pages/payments/detail?id={order_id}",
        subscribe=Template(
            "linli-sub-payment-refunded",
            {
                "thing1": "{description}",
                "amount2": "{amount_yuan}",
                "thing3": "订单已关闭，全额退款",
                "time4": "{paid_at}",
            },
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="payment_discrepancies",
        description="Finance staff: the daily reconciliation with WeChat Pay found differences",
        title="对账差异：{bill_date} 共 {count} 笔",
        body=(
            "{bill_date} 的微信支付对账发现 {count} 处差异（我方缺失 {missing_here}，金额不符 {amount_mismatch}，"
            "微信缺失 {missing_there}），请在后台“支付对账差异”中核查。"
        ),
        page=None,
        channels=(),  # staff read it in their inbox
    ),
)
