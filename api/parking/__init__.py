"""Shared parking (错峰共享停车): lots and spaces lent by owners and units in sharing windows that follow the
Chinese working-day calendar, residents' vehicles, quotes, bookings that can never overlap on a space (an
exclusion constraint on PostgreSQL, the space's row lock everywhere) and pooled lots that never exceed their
capacity, monthly off-peak passes, payment through payments, gate decisions and passage records, allow-lists
pushed to gate systems, magnetometers, no-shows, overstay, and what residents, lenders and staff see."""

from celery.schedules import crontab

from api.platform import Domain

domain = Domain(
    name="parking",
    description="Shared parking: lots, sharing windows, bookings, passes, gates, magnetometers",
    routes="api.parking.routes",
    models=("api.parking.models",),
    tasks="api.parking.tasks",
    beat={
        "parking-expire-holds": {"task": "parking.expire_holds", "schedule": 60.0},
        "parking-release-no-shows": {"task": "parking.release_no_shows", "schedule": 300.0},
        "parking-warn-overstay": {"task": "parking.warn_overstay", "schedule": 60.0},
        "parking-sweep-sensors": {"task": "parking.sweep_sensors", "schedule": 30.0},
        # At night, when few cars move: every gate system holds exactly the bookings and passes it should.
        "parking-reconcile-allowlists": {
            "task": "parking.reconcile_allowlists",
            "schedule": crontab(minute=30, hour=3),
        },
        "parking-forget-old-receipts": {"task": "parking.forget_old_receipts", "schedule": crontab(minute=41)},
    },
    errors="api.parking.errors:ERRORS",
    messages="api.parking.messages:MESSAGES",
    media_visibility={"parking_vehicle": "api.parking.services:may_see_licence"},
    receivers=(
        ("api.payments.signals:payment_succeeded", "api.parking.receivers:on_payment_succeeded"),
        ("api.payments.signals:payment_closed", "api.parking.receivers:on_payment_closed"),
        ("api.payments.signals:payment_after_close", "api.parking.receivers:on_payment_after_close"),
    ),
    seed="api.parking.seed:seed_demo",
    personal_data="api.parking.personal:personal_data",
)
