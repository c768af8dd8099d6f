"""Error codes of the payments domain: code -> (HTTP status, Chinese message, English message)."""

from __future__ import annotations

ERRORS: dict[str, tuple[int, str, str]] = {
    "payment_amount_invalid": (
        422,
        "金额须为 1 至 {max_fen} 分之间的整数",
        "The amount must be a whole number of fen between 1 and {max_fen}",
    ),
    "payment_order_invalid": (422, "支付订单参数有误", "The payment order is invalid"),
    "payment_order_open": (
        409,
        "该事项已有一笔待支付的订单（金额或付款人不同）",
        "There is already an unpaid order for this, with another amount or payer",
    ),
    "payment_already_paid": (409, "该订单已支付", "This order is already paid"),
    "payment_closed": (409, "该订单已关闭，不能再支付", "This order is closed and can no longer be paid"),
    "payment_expired": (409, "该订单已过支付期限", "This order's time to pay has passed"),
    "payment_no_openid": (
        409,
        "请先通过微信小程序登录后再支付",
        "Log in with the WeChat mini-program before paying",
    ),
    "payment_not_paid": (409, "该订单未支付，不能退款", "This order is not paid, so it cannot be refunded"),
    "refund_exceeds_paid": (
        409,
        "退款金额超过可退金额（可退 {refundable_fen} 分）",
        "The refund is more than what can still be refunded ({refundable_fen} fen)",
    ),
    "payments_unavailable": (503, "支付服务暂不可用", "Payments are not available"),
    "wechat_pay_unavailable": (502, "暂时无法连接微信支付，请稍后再试", "WeChat Pay could not be reached; try again"),
    "wechat_pay_error": (502, "微信支付返回错误（{wechat_code}）", "WeChat Pay returned an error ({wechat_code})"),
    "payments_sandbox_only": (404, "仅在支付沙箱模式下可用", "Only available in the payments sandbox"),
}
