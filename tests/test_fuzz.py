"""Fuzzing every operation of the OpenAPI document with Schemathesis: no input is a 500, and every 4xx
is the API's one error shape `{"code", "message", "errors"}`.

A second run takes valid inputs of every operation and makes them hostile the ways that once ended in a
500 or a leak: lone surrogates, control and bidi characters, times at the edge of the calendar, phone
numbers written the ways people write them, very long text, and a body nested 100,000 deep — as an
admin, a committee's staff member and a resident. Besides no 5xx and the one error shape, a refused
request must have stored nothing (the row count of every table is unchanged). A new domain's routes are
covered on arrival.

Each secured operation is fuzzed as a signed-in admin and as a signed-in resident (the login endpoints
once, anonymously), with valid (positive) and invalid (negative) data. Random UUIDs only ever reach
"not found", so ids and pagination cursors are also drawn from what exists: the small subdistrict of the
`world` fixture and a few household requests, pending and decided. Hypothesis runs derandomised, without
its example database and without shrinking, so a run is reproducible and quick even when it fails. Every
finding is collected and reported at the end: operation, identity, a curl command to replay it, the
response and the server's traceback.

Each run is `SHARDS` tests, each over every `SHARDS`-th operation of the document (together: all of them),
so that the parallel test processes share the work. Both run in the PostgreSQL pass only.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import schemathesis
from argon2 import PasswordHasher
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from api.accounts import services
from api.accounts.models import AreaKind
from tests.conftest import bearer, wechat_login

# Real commits (truncate mode): one test sends thousands of requests over every table, and in savepoint mode
# they all ran in one transaction that held a lock on each table and index it touched until the end — with
# the care, meal and aids tables that outgrew PostgreSQL's shared lock table ("out of shared memory", a 503).
pytestmark = pytest.mark.commits

ERROR_KEYS = {"code", "message", "errors"}
SHARDS = 4  # each run of the fuzzer is this many tests, each over every SHARDS-th operation
MAX_EXAMPLES = 25
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=False,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: report the first failing input, fast
)


class Finding(AssertionError):
    """One response that breaks the contract; raised inside Hypothesis so it shrinks the input."""


def _problem(status: int, content_type: str, body: bytes) -> str | None:
    if status >= 500:
        return f"server error {status}"
    if status < 400:
        return None
    if not content_type.startswith("application/json"):
        return f"{status} with content type {content_type!r} instead of JSON"
    try:
        payload = json.loads(body)
    except ValueError:
        return f"{status} whose body is not JSON"
    if not isinstance(payload, dict) or set(payload) != ERROR_KEYS:
        return f"{status} whose body is not the error shape {sorted(ERROR_KEYS)}"
    if not (isinstance(payload["code"], str) and isinstance(payload["message"], str)):
        return f"{status} whose code/message are not strings"
    errors = payload["errors"]
    if not isinstance(errors, dict) or not all(
        isinstance(v, list) and all(isinstance(m, str) for m in v) for v in errors.values()
    ):
        return f"{status} whose errors are not {{field: [message, ...]}}"
    return None


def _server_tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{record.getMessage()}\n{record.exc_text or ''}"
        for record in caplog.records
        if record.levelno >= logging.ERROR and record.exc_info
    ]


def _use_known_values(case: Any, known: dict[str, list[str]], data: st.DataObject) -> None:
    """Now and then swap a generated id or cursor for one that exists, wherever a parameter of that name is."""
    for container in (case.path_parameters, case.query, case.body):
        if not isinstance(container, dict):
            continue
        for name, values in known.items():
            if name in container and values and data.draw(st.booleans(), label=f"known {name}"):
                container[name] = data.draw(st.sampled_from(values), label=name)


def _fuzz(
    operation: Any,
    mode: GenerationMode,
    headers: dict[str, str],
    known: dict[str, list[str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    @FUZZ_SETTINGS
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        _use_known_values(case, known, data)
        caplog.clear()
        response = case.call(headers=headers)
        content_type = (response.headers.get("content-type") or [""])[0]
        problem = _problem(response.status_code, content_type, response.content)
        if problem:
            tracebacks = "\n".join(_server_tracebacks(caplog)) or "(nothing logged)"
            raise Finding(
                f"{problem}\n  replay: {case.as_curl_command(headers=headers)}\n"
                f"  body: {response.content[:1000]!r}\n  server log:\n{tracebacks}"
            )

    run()


def _known_values(client: Any, world: Any, admin: dict[str, Any], resident: dict[str, Any]) -> dict[str, list[str]]:
    """Ids of the world, household requests in every state, and real cursors of every list."""
    lisi = bearer(wechat_login(client, "lisi#1")["access_token"])
    request_ids = []
    for headers, room in ((resident["headers"], "KJ01/101"), (resident["headers"], "KJ02/102"), (lisi, "KJ01/201")):
        response = client.post(
            "/api/v1/me/household-requests",
            json={"room_id": str(world.room(room).id), "relation": "owner"},
            headers=headers,
        )
        assert response.status_code == 201, response.get_json()
        request_ids.append(response.get_json()["id"])
    approved = client.post(f"/api/v1/admin/household-requests/{request_ids[0]}/approve", headers=admin["headers"])
    assert approved.status_code == 200, approved.get_json()

    cursors = []
    for path, headers in (
        (f"/api/v1/areas?limit=1&parent_id={world.areas['KJ'].id}", resident["headers"]),
        (f"/api/v1/areas/{world.areas['KJ01-01-001'].id}/rooms?limit=1", resident["headers"]),
        ("/api/v1/me/household-requests?limit=1", resident["headers"]),
        ("/api/v1/admin/household-requests?limit=1", admin["headers"]),
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.get_json())
        cursors.append(response.get_json()["next_cursor"])
    area_ids = [str(area.id) for area in world.areas.values()]
    building_ids = [str(area.id) for area in world.areas.values() if area.kind == AreaKind.BUILDING]
    return {
        "area_id": building_ids + area_ids,  # buildings twice as likely: they have rooms
        "parent_id": area_ids,
        "room_id": [str(room.id) for room in world.rooms.values()],
        "request_id": request_ids,
        "cursor": [c for c in cursors if c],
    }


def _operations(schema: Any, shard: int) -> list[Any]:
    """This shard's operations of the document: every `SHARDS`-th, from the `shard`-th on."""
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10, "the OpenAPI document lost its operations"
    return operations[shard::SHARDS]


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_operation_survives_fuzzing_with_no_5xx_and_one_error_shape(
    app, client, world, admin, resident, caplog, monkeypatch, shard
):
    caplog.set_level(logging.ERROR)
    # A staff login with an unknown name verifies against a dummy Argon2 hash (deliberately slow); a cheap
    # one keeps that code path while 25 such logins take milliseconds instead of seconds.
    cheap_dummy = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("linli-no-such-user")
    monkeypatch.setattr(services, "_dummy_hash", lambda: cheap_dummy)
    known = _known_values(client, world, admin, resident)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    signed_in = {"admin": admin["headers"], "resident": resident["headers"]}
    findings: list[str] = []
    unsatisfiable: list[str] = []
    for operation in _operations(schema, shard):
        # Secured operations as each kind of person; the login endpoints (no security) once, anonymously.
        identities = signed_in if operation.definition.raw.get("security") else {"anonymous": {}}
        for who, headers in identities.items():
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    _fuzz(operation, mode, headers, known, caplog)
                except Finding as finding:
                    findings.append(f"{operation.label} as {who} ({mode.value}): {finding}")
                except Unsatisfiable:
                    # An operation whose every input is valid (no parameters, no body) has no negative
                    # case to draw; a positive one that cannot be drawn is a broken schema.
                    if mode is GenerationMode.POSITIVE:
                        findings.append(f"{operation.label} as {who}: no valid input can be generated")
                    unsatisfiable.append(f"{operation.label} ({mode.value})")

    assert not findings, f"{len(findings)} finding(s):\n\n" + "\n\n".join(findings)
    print("operations with no negative case:", sorted(set(unsatisfiable)))


# ----------------------------------------------------------------------------------------------------
# Hostile inputs over every operation
# ----------------------------------------------------------------------------------------------------

HOSTILE_TEXT = [
    "\ud800",
    "名字\udfff",
    "\x1b[31m红字\x1b[0m",
    "响铃\x07",
    "退格\x08\x08",
    "\u202e婆阿王",
    "\u2066隔离\u2069",
    "C1\x85\x9b",
    "换\n行",
    "\x00",
    "139 1234 5678",
    "+86 139-1234-5678",
    "１３９１２３４５６７８",
    "x" * 6000,
    "",
]
EDGE_TIMES = ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "1899-12-31T23:59:59+00:00"]
ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}")
HOSTILE_EXAMPLES = 8
HOSTILE_SETTINGS = settings(FUZZ_SETTINGS, max_examples=HOSTILE_EXAMPLES)
NESTED = b"[" * 100_000 + b"]" * 100_000


def _hostile(value: Any, data: st.DataObject, name: str) -> Any:
    """`value` with some of its strings (dates: edge times) swapped for hostile ones."""
    if isinstance(value, str):
        if not data.draw(st.booleans(), label=f"swap {name}"):
            return value
        pool = EDGE_TIMES if ISO_TIME.match(value) else HOSTILE_TEXT
        return data.draw(st.sampled_from(pool), label=name)
    if isinstance(value, list):
        return [_hostile(item, data, f"{name}[]") for item in value]
    if isinstance(value, dict):
        return {key: _hostile(item, data, f"{name}.{key}") for key, item in value.items()}
    return value


def _row_counts() -> dict[str, int]:
    from sqlalchemy import func, select, union_all

    from api.db import db
    from api.models import metadata

    tables = metadata.sorted_tables
    counts = union_all(*(select(func.count()).select_from(t) for t in tables))
    db.session.remove()
    values = list(db.session.scalars(counts))
    db.session.remove()
    return dict(zip((t.name for t in tables), values, strict=True))


def _raw(value: Any) -> bytes:
    """What a hostile client puts on the wire for a value: UTF-8, lone surrogates included."""
    return str(value).encode("utf-8", "surrogatepass")


def _path(case: Any) -> str:
    path = case.path
    for name, value in (case.path_parameters or {}).items():
        path = path.replace("{" + name + "}", quote(_raw(value), safe=""))
    return path


def _send(client: Any, case: Any, headers: dict[str, str], body: bytes | None) -> Any:
    query = [
        (k, _raw(v))
        for k, values in (case.query or {}).items()
        for v in (values if isinstance(values, list) else [values])
    ]
    return client.open(
        _path(case),
        method=case.method.upper(),
        query_string=urlencode(query) if query else None,
        data=body,
        content_type="application/json" if body is not None else None,
        headers={**headers, **{k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}},
    )


def _hostile_fuzz(operation: Any, client: Any, headers: dict[str, str], known: dict[str, list[str]]) -> None:
    @HOSTILE_SETTINGS
    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE), data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        _use_known_values(case, known, data)
        case.query = _hostile(case.query, data, "query") if case.query else case.query
        case.path_parameters = _hostile(case.path_parameters, data, "path") if case.path_parameters else None
        body = None
        if case.media_type == "application/json" and case.body is not None:
            # ensure_ascii: a lone surrogate travels as the `\ud800` escape, as a hostile client sends it
            body = json.dumps(_hostile(case.body, data, "body")).encode()
        elif case.media_type not in (None, "application/json"):
            return  # uploads: their bodies are bytes, fuzzed by the media tests
        before = _row_counts()
        response = _send(client, case, headers, body)
        problem = _problem(response.status_code, response.content_type or "", response.get_data())
        if problem is None and response.status_code >= 400 and (after := _row_counts()) != before:
            changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
            problem = f"{response.status_code} but something was stored: {changed}"
        if problem:
            raise Finding(
                f"{problem}\n  {case.method.upper()} {_path(case)} query={case.query!r}\n"
                f"  body: {body[:300] if body else None!r}\n  answer: {response.get_data()[:500]!r}"
            )

    run()


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_operation_survives_hostile_input_as_every_role(app, client, world, admin, kj01_staff, resident, shard):
    known = _known_values(client, world, admin, resident)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    signed_in = {"admin": admin["headers"], "kj01-staff": kj01_staff["headers"], "resident": resident["headers"]}
    findings: list[str] = []
    for operation in _operations(schema, shard):
        identities = signed_in if operation.definition.raw.get("security") else {"anonymous": {}}
        has_json_body = "application/json" in operation.definition.raw.get("requestBody", {}).get("content", {})
        for who, headers in identities.items():
            if has_json_body:
                nested = client.open(
                    operation.path.replace("{", "").replace("}", ""),
                    method=operation.method.upper(),
                    data=NESTED,
                    content_type="application/json",
                    headers=headers,
                )
                problem = _problem(nested.status_code, nested.content_type or "", nested.get_data())
                if problem:
                    findings.append(f"{operation.label} as {who}, nested 100,000 deep: {problem}")
            try:
                _hostile_fuzz(operation, client, headers, known)
            except Finding as finding:
                findings.append(f"{operation.label} as {who}: {finding}")
            except Unsatisfiable:
                pass
    assert not findings, f"{len(findings)} finding(s):\n\n" + "\n\n".join(findings)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/auth/staff-login", {"username": "ad\x00min", "password": "x"}),
        ("patch", "/api/v1/me", {"nickname": "张\x00三"}),
        ("post", "/api/v1/me/household-requests", {"relation": "owner", "note": "\x00"}),
        ("get", "/api/v1/areas?q=%E6%8E%A7%00%E6%B1%9F", None),
    ],
)
def test_a_nul_character_in_text_is_a_422_not_a_500(client, world, resident, method, path, body):
    """Found by the fuzzer: PostgreSQL refuses NUL in text, so it used to surface there as a 500."""
    if path.endswith("household-requests"):
        body = {**body, "room_id": str(world.room("KJ01/101").id)}
    response = getattr(client, method)(path, headers=resident["headers"], json=body)

    assert response.status_code == 422, response.get_json()
    assert response.get_json()["code"] == "validation_failed"
    assert list(response.get_json()["errors"].values()) == [["不能包含 NUL 字符"]]
