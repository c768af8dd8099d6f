"""Every failure reaches the mini-program in one shape, in Chinese unless it asks for English."""

from __future__ import annotations

import pytest

from api import create_app

SHAPE = {"code", "message", "errors"}


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == SHAPE
    assert body["code"] == code
    assert "Traceback" not in response.get_data(as_text=True)
    return body


@pytest.mark.smoke
def test_unknown_route_is_404_in_chinese(client):
    body = assert_error(client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert body["message"] == "资源不存在"


def test_english_when_the_client_asks(client):
    body = assert_error(
        client.get("/api/v1/no-such-thing", headers={"Accept-Language": "en-US,en;q=0.9"}), 404, "not_found"
    )
    assert body["message"] == "Not found"


def test_wrong_method_is_405_and_names_the_allowed_ones(client):
    response = client.delete("/api/v1/auth/refresh")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_a_body_that_is_not_json_is_415(client, world):
    response = client.post(
        "/api/v1/auth/wechat-login", data="code=abc", content_type="application/x-www-form-urlencoded"
    )
    body = assert_error(response, 415, "unsupported_media_type")
    assert "application/json" in body["message"]


def test_malformed_json_is_400(client, world):
    response = client.post("/api/v1/auth/wechat-login", data='{"code": ', content_type="application/json")
    assert_error(response, 400, "malformed_json")


def test_a_huge_body_is_413_before_it_is_read(client, world):
    response = client.post(
        "/api/v1/auth/wechat-login",
        data=b'{"code": "' + b"x" * (2 * 1024 * 1024) + b'"}',
        content_type="application/json",
    )
    body = assert_error(response, 413, "payload_too_large")
    assert "1 MB" in body["message"]


@pytest.mark.smoke
def test_invalid_fields_are_422_with_the_problem_per_field_in_chinese(client, world):
    body = assert_error(client.post("/api/v1/auth/wechat-login", json={"cod": "x"}), 422, "validation_failed")
    assert body["errors"] == {"code": ["缺少必填字段"], "cod": ["未知字段"]}


def test_invalid_fields_in_english(client, world):
    response = client.post("/api/v1/auth/wechat-login", json={"code": ""}, headers={"Accept-Language": "en"})
    body = assert_error(response, 422, "validation_failed")
    assert body["message"] == "Some fields are invalid"
    assert body["errors"] == {"code": ["Length must be between 1 and 128."]}


def test_invalid_query_parameters_are_422(client, resident):
    body = assert_error(client.get("/api/v1/areas?limit=1000", headers=resident["headers"]), 422, "validation_failed")
    assert "limit" in body["errors"]


def test_too_many_requests_is_429_with_retry_after(client, world, settings):
    settings.login_rate_limit_per_minute = 1
    client.post("/api/v1/auth/wechat-login", json={"code": "a#1"})
    response = client.post("/api/v1/auth/wechat-login", json={"code": "b#1"})

    body = assert_error(response, 429, "too_many_requests")
    assert response.headers["Retry-After"] in body["message"]


@pytest.fixture
def crashing_app(base_settings):
    app = create_app(base_settings)

    @app.get("/api/v1/boom")
    def boom():
        raise RuntimeError("secret internals: password=hunter2")

    return app


@pytest.mark.smoke
def test_an_unexpected_exception_is_a_500_without_internals(crashing_app):
    response = crashing_app.test_client().get("/api/v1/boom")

    body = assert_error(response, 500, "internal_error")
    assert "hunter2" not in response.get_data(as_text=True)
    assert body["message"] == "服务器内部错误，请稍后再试"


def test_the_openapi_document_describes_the_error_shape(client):
    spec = client.get("/api/v1/openapi.json").get_json()

    error = spec["components"]["schemas"]["Error"]
    assert set(error["properties"]) == SHAPE
    responses = spec["paths"]["/api/v1/auth/wechat-login"]["post"]["responses"]
    for status in ("400", "422", "429"):
        response = responses[status]
        if "$ref" in response:
            response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
        assert response["content"]["application/json"]["schema"]["$ref"].endswith("/Error"), status


@pytest.mark.smoke
def test_docs_are_served_without_internet(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/api/v1/docs/assets/{asset}" in html
        served = client.get(f"/api/v1/docs/assets/{asset}")
        assert served.status_code == 200
        assert len(served.data) > 10_000


def test_every_operation_has_a_unique_name_for_generated_clients(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    names = [
        operation["operationId"]
        for path in spec["paths"].values()
        for method, operation in path.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(names) == len(set(names)) > 10
