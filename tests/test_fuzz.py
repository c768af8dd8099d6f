"""Fuzzing every operation of the OpenAPI document with Schemathesis: no input is a 500, and every 4xx
is the API's one error shape `{"code", "message", "errors"}`.

Each secured operation is fuzzed as a signed-in admin and as a signed-in resident (the login endpoints
once, anonymously), with valid (positive) and invalid (negative) data. Random UUIDs only ever reach
"not found", so ids and pagination cursors are also drawn from what exists: the small subdistrict of the
`world` fixture and a few household requests, pending and decided. Hypothesis runs derandomised, without
its example database and without shrinking, so a run is reproducible and quick even when it fails. Every
finding is collected and reported at the end: operation, identity, a curl command to replay it, the
response and the server's traceback.
"""

from __future__ import annotations

import json
import logging
from typing import Any

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

ERROR_KEYS = {"code", "message", "errors"}
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


def test_every_operation_survives_fuzzing_with_no_5xx_and_one_error_shape(
    app, client, world, admin, resident, caplog, monkeypatch
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
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
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

    assert operations >= 10, "the OpenAPI document lost its operations"
    assert not findings, f"{len(findings)} finding(s):\n\n" + "\n\n".join(findings)
    print("operations with no negative case:", sorted(set(unsatisfiable)))


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
