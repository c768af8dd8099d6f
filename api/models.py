"""Every domain's models, imported so the metadata is complete (for Alembic and the tests)."""

from api.accounts import models as accounts  # noqa: F401
from api.alerts import models as alerts  # noqa: F401
from api.db import Base
from api.devices import models as devices  # noqa: F401
from api.eldercare import models as eldercare  # noqa: F401
from api.events import models as events  # noqa: F401
from api.idempotency import IdempotencyKey  # noqa: F401
from api.incidents import models as incidents  # noqa: F401
from api.live import models as live  # noqa: F401
from api.media import models as media  # noqa: F401
from api.notifications import models as notifications  # noqa: F401
from api.open311 import models as open311  # noqa: F401

metadata = Base.metadata
