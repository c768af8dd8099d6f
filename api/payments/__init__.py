"""Payments (支付): WeChat Pay API v3 JSAPI (mini-program) orders for what the other domains sell — parking,
party dues, paid services — their notifies, refunds in full or in parts, the jobs that make sure nothing is
lost or doubled, the daily reconciliation with WeChat Pay's bill, and the staff side (orders of an area,
refunds on a resident's behalf, discrepancies, the audit). Amounts are integer fen.

Domains call `api.payments.services.create_order / refund / close_order` and hear back through the signals of
`api.payments.signals`; none of them talks to WeChat Pay."""

from celery.schedules import crontab

from api.platform import Domain

domain = Domain(
    name="payments",
    description="WeChat Pay orders, notifies, refunds, reconciliation",
    routes="api.payments.routes",
    models=("api.payments.models",),
    tasks="api.payments.tasks",
    beat={
        "payments-query-unpaid": {"task": "payments.query_unpaid", "schedule": 60.0},
        "payments-close-expired": {"task": "payments.close_expired", "schedule": 60.0},
        "payments-sweep": {"task": "payments.sweep", "schedule": 60.0},
        # WeChat Pay has the day's bill ready from about 10:00 the next morning (Asia/Shanghai, the beat's zone).
        "payments-reconcile": {"task": "payments.reconcile", "schedule": crontab(minute=40, hour="10-23")},
    },
    errors="api.payments.errors:ERRORS",
    messages="api.payments.messages:MESSAGES",
    personal_data="api.payments.personal:personal_data",
)
