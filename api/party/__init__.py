"""Party affairs (智慧党建): the organisation tree (党工委/党委 → 党总支 → 党支部 → 党小组) and its officers, members
linked to resident accounts by staff, 三会一课 with roster, leave, QR sign-in and minutes approved by the level
above, study with read time and quizzes, points with caps and rankings, announcements with read receipts, dues
(rates as data, declarations, a monthly ledger, payment online through payments or recorded by the branch),
membership transfers, and working members' registration with their community.

Membership is sensitive: nothing of it is public, what staff and officers read is in the access log, and what
they may see follows the tree (`api.party.reach`). Party reacts to payments' signals for dues; the volunteers
domain plugs in through `api.party.signals` (party imports none of it)."""

from celery.schedules import crontab

from api.platform import Domain

domain = Domain(
    name="party",
    description="party organisations, members, meetings, study, points, dues, transfers",
    routes="api.party.routes",
    models=("api.party.models",),
    tasks="api.party.tasks",
    beat={
        "party-close-meetings": {"task": "party.close_meetings", "schedule": 300.0},
        "party-expire-transfers": {"task": "party.expire_transfers", "schedule": crontab(minute=5)},
        "party-dues-reminders": {"task": "party.dues_reminders", "schedule": crontab(minute=0, hour=9)},
        "party-flag-unpaid-dues": {"task": "party.flag_unpaid_dues", "schedule": crontab(minute=30, hour=1)},
        "party-award-service-hours": {"task": "party.award_service_hours", "schedule": crontab(minute=0, hour=3)},
        # The first day of each quarter: officers hear the last quarter's hours report is ready.
        "party-report-hours": {
            "task": "party.report_hours",
            "schedule": crontab(minute=0, hour=8, day_of_month=1, month_of_year="1,4,7,10"),
        },
    },
    errors="api.party.errors:ERRORS",
    messages="api.party.messages:MESSAGES",
    media_visibility={
        "party_registration": "api.party.registrations:may_see_slip",
        "party_minutes": "api.party.meetings:may_see_minutes_photos",
        "party_claim": "api.party.points:may_see_claim_photos",
        "party_material": "api.party.study:may_see_material_photos",
    },
    receivers=(
        ("api.payments.signals:payment_succeeded", "api.party.dues:on_payment_succeeded"),
        ("api.payments.signals:payment_closed", "api.party.dues:on_payment_closed"),
        ("api.payments.signals:payment_after_close", "api.party.dues:on_payment_after_close"),
    ),
    seed="api.party.seed:seed_demo",
    personal_data="api.party.personal:personal_data",
)
