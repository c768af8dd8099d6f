"""Alembic environment: the models' metadata is the target; the URL comes from the app's settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from api import crypto
from api.config import Settings
from api.db import UTCDateTime
from api.models import metadata

config = context.config
target_metadata = metadata
# Data migrations that encrypt personal numbers use the keys the app will read them with.
_settings = Settings.from_env()
crypto.configure(_settings.pii_encryption_key, _settings.pii_hash_key)


def render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    # Migrations must not import application types: write our UTC column as the plain type it is.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, crypto.Encrypted):
        return f"sa.String(length={obj.impl.length})"
    return False


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or Settings.from_env().sqlalchemy_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        render_item=render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        render_item=render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
