"""The metadata of every installed domain's models (for Alembic and the tests), and the core's own tables."""

import importlib

from api import platform
from api.db import Base
from api.idempotency import IdempotencyKey  # noqa: F401  (the core's table: Idempotency-Key replays)

for _module in platform.model_modules(platform.load()):
    importlib.import_module(_module)

metadata = Base.metadata
