"""Imports every domain's task module so a worker knows them all."""

from api.accounts import tasks as _accounts_tasks  # noqa: F401
from api.alerts import tasks as _alerts_tasks  # noqa: F401
from api.events import tasks as _events_tasks  # noqa: F401
from api.incidents import tasks as _incidents_tasks  # noqa: F401
from api.live import tasks as _live_tasks  # noqa: F401
from api.media import tasks as _media_tasks  # noqa: F401
from api.notifications import tasks as _notifications_tasks  # noqa: F401
