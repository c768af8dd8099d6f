"""Privacy (PIPL): a person's export of their data and the deletion of their account across every
domain (through each domain's `personal_data` hooks), what they see of their privacy and of who looked
at their data, the privacy policy's publication, and retention. The top floor: it reaches every domain
only through their manifests."""

from celery.schedules import crontab

from api.platform import Domain

domain = Domain(
    name="privacy",
    description="data export, account deletion, the access log, retention",
    routes="api.privacy.routes",
    models=("api.privacy.models",),
    tasks="api.privacy.tasks",
    beat={
        "erase-due-accounts": {"task": "privacy.erase_due", "schedule": crontab(minute=7)},
        "apply-retention": {
            "task": "privacy.apply_retention",
            "schedule": crontab(hour=19, minute=30),
        },  # 03:30 Shanghai
    },
    errors="api.privacy.errors:ERRORS",
    messages="api.privacy.messages:MESSAGES",
    receivers=(("api.accounts.signals:logged_in", "api.privacy.services:cancel_on_login"),),
    personal_data="api.privacy.personal:personal_data",
)
