"""Rehabilitation aids lending (康复辅具共享): the kinds of aid the subdistrict lends (wheelchairs, walkers,
bath chairs, hospital beds …) with their deposit and loan period, the community service stations that keep them,
their stock by asset tag and condition, availability shown to residents (counts, nobody named), reservations by a
resident for themselves or an elder they look after — never two live loans of one item (the item's row lock and a
partial unique index) —, the deposit through payments, hand-out and return with condition notes and photos, renewal
once while nobody waits, reminders before the due date and overdue loans escalated to the station's staff."""

from celery.schedules import crontab

from api.platform import Domain

domain = Domain(
    name="aids",
    description="Rehabilitation aids lending: stations, stock, reservations, loans, deposits, reminders",
    routes="api.aids.routes",
    models=("api.aids.models",),
    tasks="api.aids.tasks",
    beat={
        "aids-expire-reservations": {"task": "aids.expire_reservations", "schedule": 300.0},
        # In the morning, Shanghai time (01:00 UTC = 09:00): a reminder is read, not woken up by.
        "aids-remind-due": {"task": "aids.remind_due", "schedule": crontab(minute=0, hour=1)},
        "aids-escalate-overdue": {"task": "aids.escalate_overdue", "schedule": crontab(minute=15)},
    },
    errors="api.aids.errors:ERRORS",
    messages="api.aids.messages:MESSAGES",
    media_visibility={
        "aid_loan_out": "api.aids.services:may_see_loan_photos",
        "aid_loan_return": "api.aids.services:may_see_loan_photos",
    },
    receivers=(
        ("api.payments.signals:payment_succeeded", "api.aids.receivers:on_payment_succeeded"),
        ("api.payments.signals:payment_closed", "api.aids.receivers:on_payment_closed"),
        ("api.payments.signals:payment_after_close", "api.aids.receivers:on_payment_after_close"),
    ),
    seed="api.aids.seed:seed_demo",
    personal_data="api.aids.personal:personal_data",
)
