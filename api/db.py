"""Database plumbing shared by every domain: the declarative base, column types, ids and the session.

There is one scoped session (`db.session`), bound in `create_app`. A web request is one unit of work:
the app commits after a successful response and rolls back otherwise (see `api/__init__.py`); Celery
tasks do the same per task. Services never commit on their own, so they compose.
"""

from __future__ import annotations

import enum
import os
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Enum, MetaData, Select, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator, Uuid

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    """A UUIDv7: random enough to be opaque, ordered by creation so keyset pages follow time."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


# Codes a person reads aloud or types (invites, follow-and-bind): no 0/O, 1/I/L.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_code(length: int = 8) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes stored as UTC, on SQLite (no tz support) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_column(cls: type[enum.Enum], name: str) -> Enum:
    """An enum stored as its values in a VARCHAR with a CHECK constraint (not a native PostgreSQL enum:
    adding a member is then a migration of the constraint, not an `ALTER TYPE` that cannot run in a
    transaction)."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in cls),
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), uuid.UUID: Uuid()}  # noqa: RUF012 (SQLAlchemy reads it as is)


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # LIFO: under a light load the connection just returned is the one reused, so the others sit idle and
    # are the ones checked (`_ping_when_idle`) or recycled, not every connection in turn.
    engine = create_engine(url, pool_size=10, max_overflow=10, pool_use_lifo=True, **kwargs)
    _ping_when_idle(engine)
    return engine


# A connection back from a request within this many seconds is handed out again without a round trip to
# the server; one idle for longer is pinged first, and replaced if the server has gone.
PING_AFTER_IDLE_SECONDS = 2.0


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's `pool_pre_ping`, but only for a connection that sat idle: pinging on every checkout cost
    a round trip and a tenth of a single read's CPU, to guard a connection that answered a moment ago. If the
    server goes away within those seconds, the request that meets the dead connection answers 503 with
    Retry-After (`api.errors.is_outage`), and SQLAlchemy then discards every connection of the pool made
    before the disconnect, so the next requests get fresh ones."""

    @event.listens_for(engine, "connect")
    def _fresh(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is not None and time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool's documented answer: drop this connection and check out another (up to three tries).
            raise DisconnectionError() from exc


class RoutingSession(Session):
    """A session whose plain reads may go elsewhere than its transaction on the primary: to the read replica
    once the request chose it (`Database.read_from_replica`), or, in a GET, to a primary connection in
    autocommit (`Database.read_without_transaction`). Writes, flushes, `SELECT … FOR UPDATE`, text SQL, and
    every statement of a request that chose neither, go through the transaction on the primary — and so does
    every read after a request's first write, which it must see."""

    def get_bind(self, mapper: Any = None, *, clause: Any = None, **kwargs: Any) -> Any:
        reads = self.info.get(READS)
        if reads is not None:
            if not self._flushing and isinstance(clause, Select) and clause._for_update_arg is None:
                return reads
            del self.info[READS]
        return super().get_bind(mapper, clause=clause, **kwargs)


READS = "linli.reads"


class Database:
    """The engine and the scoped session; `bind()` is called once by the app factory.

    With a read URL, `read_engine` is a second engine (a streaming replica); a request that only lists or counts
    may read through it (`read_from_replica`). Without one, it is None and everything reads the primary. On
    PostgreSQL, a GET's reads go through the primary in autocommit until it writes (`read_without_transaction`).
    """

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.read_engine: Engine | None = None
        self._autocommit: tuple[Engine, Engine] | None = None
        self._factory = sessionmaker(class_=RoutingSession, expire_on_commit=False)
        self.session = scoped_session(self._factory)

    def bind(self, url: str, read_url: str = "") -> Engine:
        if self.engine is None or str(self.engine.url) != url:
            if self.engine is not None:
                self.session.remove()
                self.engine.dispose()
            self.engine = make_engine(url)
            self._factory.configure(bind=self.engine)
        if (self.read_engine.url.render_as_string(hide_password=False) if self.read_engine else "") != read_url:
            if self.read_engine is not None:
                self.session.remove()
                self.read_engine.dispose()
            self.read_engine = make_engine(read_url) if read_url else None
        return self.engine

    def read_from_replica(self) -> bool:
        """This request's plain reads go to the replica from now on (when one is configured)."""
        if self.read_engine is None:
            return False
        self.session().info[READS] = self.read_engine
        return True

    def read_without_transaction(self) -> None:
        """This request's plain reads run in autocommit, each on its own, until it writes: no BEGIN and COMMIT
        round trips around a GET. Under PostgreSQL's READ COMMITTED each statement reads its own snapshot
        in a transaction too, so the reads see what they would have seen; a write (a GET rarely makes one)
        opens the transaction as before. Only when the session is bound to the engine: a test that holds
        everything in one rolled-back transaction keeps it."""
        engine = self.engine
        if engine is None or engine.dialect.name != "postgresql" or self._factory.kw.get("bind") is not engine:
            return
        if self._autocommit is None or self._autocommit[0] is not engine:
            # Derived from whichever engine is bound now (tests swap it): same pool, autocommit on checkout.
            self._autocommit = (engine, engine.execution_options(isolation_level="AUTOCOMMIT"))
        self.session().info[READS] = self._autocommit[1]

    def only_read(self) -> bool:
        """Whether this request's session has only read, in autocommit or on the replica: nothing written,
        nothing waiting to be flushed. (What else waits for a commit, the outbox, `api.jobs` knows.)"""
        session = self.session()
        return READS in session.info and not (session.new or session.dirty or session.deleted)

    def new_session(self) -> Session:
        """A session of its own, outside the request's unit of work (e.g. for work done after commit)."""
        return self._factory()

    @property
    def dialect(self) -> str:
        assert self.engine is not None, "database not bound; call create_app() first"
        return self.engine.dialect.name


db = Database()
