"""Accounts: users, WeChat identities, households (居委会 → 小区 → 楼 → 室), roles and staff areas, staff
logins and tokens. The lowest domain: every other one stands on it."""

from celery.schedules import crontab

from api.platform import Domain

domain = Domain(
    name="accounts",
    description="users, WeChat login, tokens, areas and rooms, households",
    routes="api.accounts.routes",
    models=("api.accounts.models",),
    tasks="api.accounts.tasks",
    beat={"purge-expired-credentials": {"task": "accounts.purge_expired_credentials", "schedule": crontab(minute=17)}},
    errors="api.accounts.errors:ERRORS",
    seed="api.accounts.seed:seed_demo",
    personal_data="api.accounts.personal:personal_data",
)
