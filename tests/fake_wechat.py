"""A local fake of the WeChat HTTP API, for driving the real wechatpy code path in tests.

`FakeWechat` serves on 127.0.0.1 (ephemeral port) from a background thread. Point the app at it with
`wechat_api_base_url=fake.url`. It answers with WeChat's own JSON shapes and error codes:

- `GET  /cgi-bin/token` — client credential → `{"access_token", "expires_in": 7200}`; wrong secret 40125,
  unknown appid 40013. Issued tokens are tracked; `expire_tokens()` makes WeChat forget them (42001).
- `GET  /sns/jscode2session` — a `wx.login` code registered with `add_login()` → `{"openid",
  "session_key", "unionid"?}`; unknown code 40029, a code used before 40163.
- `POST /wxa/business/getuserphonenumber` — a `getPhoneNumber` code registered with `add_phone()` →
  `{"errcode": 0, "errmsg": "ok", "phone_info": {...}}`; unknown or reused code 40029.
- `POST /cgi-bin/message/template/send` — Official Account template message → `{"errcode": 0, "msgid"}`.
- `POST /cgi-bin/message/subscribe/send` — mini-program subscribe message; needs a one-time credit
  granted with `grant_subscription()`, else 43101 (the user did not accept it).

Every call that takes an `access_token` refuses an unknown one (40001) and an expired one (42001).

Tests can script what comes next, ahead of the normal behaviour of an endpoint:

    fake.fail_next("/sns/jscode2session", 45011)             # one rate-limit answer, then normal again
    fake.fail_next("/wxa/business/getuserphonenumber", 42001, times=2)
    fake.answer_next("/cgi-bin/token", Answer(body="<html>", status=200, content_type="text/html"))
    fake.answer_next("/cgi-bin/token", Answer(delay=3))      # hang (released at once by stop())

and read what arrived: `fake.requests`, `fake.calls("/cgi-bin/token")`, `fake.sent_messages`.

A new endpoint is a method decorated with `@endpoint(method, path, token=True)` in a subclass (or
`fake.add_handler(...)` in a test): it receives the `Received` request and returns a JSON-able dict or an
`Answer`; `token=True` checks the access token first.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

# WeChat's own messages for the codes the fake answers with.
ERRMSG: dict[int, str] = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40014: "invalid access_token",
    40029: "invalid code",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    40163: "code been used",
    41001: "access_token missing",
    42001: "access_token expired",
    43101: "user refuse to accept the msg",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    47001: "data format error",
    47003: "argument invalid!",
}

Handler = Callable[["Received"], "dict[str, Any] | Answer"]


@dataclass
class Received:
    """One request as the fake saw it."""

    method: str
    path: str
    query: dict[str, str]
    body: bytes
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8")) if self.body else None
        except ValueError:
            return None

    @property
    def access_token(self) -> str | None:
        return self.query.get("access_token")


@dataclass
class Answer:
    """A scripted answer: a JSON dict (or raw text/bytes), an HTTP status, and an optional delay first."""

    body: dict[str, Any] | str | bytes | None = None
    status: int = 200
    content_type: str = "application/json; charset=utf-8"
    delay: float = 0.0

    @classmethod
    def error(cls, errcode: int, errmsg: str | None = None) -> Answer:
        return cls({"errcode": errcode, "errmsg": errmsg or ERRMSG.get(errcode, "error")})


@dataclass
class Login:
    openid: str
    session_key: str
    unionid: str | None = None
    used: bool = False


@dataclass
class Token:
    appid: str
    issued_at: float
    expired: bool = False


def endpoint(method: str, path: str, *, token: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a `FakeWechat` method as the handler of `method path`; `token=True` checks the access token."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        func._fake_wechat_route = (method.upper(), path, token)  # type: ignore[attr-defined]
        return func

    return decorator


@dataclass
class _Route:
    handler: Handler
    needs_token: bool


class FakeWechat:
    """The fake WeChat API server. Use as a context manager or call `start()` / `stop()`."""

    def __init__(self, apps: dict[str, str] | None = None, host: str = "127.0.0.1") -> None:
        self.apps: dict[str, str] = dict(apps or {"wx-test-app": "s3cret"})  # appid -> secret
        self.host = host
        self.requests: list[Received] = []
        self.tokens: dict[str, Token] = {}
        self.logins: dict[str, Login] = {}
        self.phones: dict[str, tuple[str, str]] = {}  # code -> (country code, pure number)
        self.used_phone_codes: set[str] = set()
        self.subscriptions: dict[tuple[str, str], int] = defaultdict(int)  # (openid, template_id) -> credits
        self.sent_messages: list[dict[str, Any]] = []
        self._script: dict[str, deque[Answer]] = defaultdict(deque)
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._counter = itertools.count(1)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self.routes: dict[tuple[str, str], _Route] = {}
        for name in dir(type(self)):
            func = getattr(type(self), name)
            route = getattr(func, "_fake_wechat_route", None)
            if route:
                method, path, needs_token = route
                self.routes[(method, path)] = _Route(getattr(self, name), needs_token)

    # Lifecycle --------------------------------------------------------------------------------------

    def start(self) -> FakeWechat:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = make_server(self.host, self._port or 0, self._wsgi, threaded=True)
        self._port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-wechat", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: from now on a connection to `url` is refused. `start()` again reuses the port."""
        self._stopping.set()  # release scripted delays
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeWechat:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("the fake WeChat server was never started")
        return f"http://{self.host}:{self._port}"

    def reset(self) -> None:
        """Forget requests, tokens, codes, scripts and messages (the apps stay)."""
        with self._lock:
            self.requests.clear()
            self.tokens.clear()
            self.logins.clear()
            self.phones.clear()
            self.used_phone_codes.clear()
            self.subscriptions.clear()
            self.sent_messages.clear()
            self._script.clear()

    # Programming the fake ---------------------------------------------------------------------------

    def add_login(self, code: str, openid: str | None = None, unionid: str | None = None) -> Login:
        """Make `code` a valid `wx.login` code for `openid` (a fresh one if not given)."""
        login = Login(openid or "o" + secrets.token_urlsafe(20)[:27], secrets.token_hex(12), unionid)
        with self._lock:
            self.logins[code] = login
        return login

    def add_phone(self, code: str, number: str, country_code: str = "86") -> None:
        """Make `code` a valid `getPhoneNumber` code for `number` (digits, without country code)."""
        with self._lock:
            self.phones[code] = (country_code, number)

    def grant_subscription(self, openid: str, template_id: str, credits: int = 1) -> None:
        """The user accepted a subscribe message `credits` times (each send uses one)."""
        with self._lock:
            self.subscriptions[(openid, template_id)] += credits

    def answer_next(self, path: str, *answers: Answer) -> None:
        """Queue answers for the next requests to `path`, before its normal behaviour."""
        with self._lock:
            self._script[path].extend(answers)

    def fail_next(self, path: str, errcode: int, errmsg: str | None = None, *, times: int = 1) -> None:
        """The next `times` requests to `path` get WeChat error `errcode`."""
        self.answer_next(path, *[Answer.error(errcode, errmsg) for _ in range(times)])

    def expire_tokens(self) -> None:
        """Every access token issued so far expires, as if 7200 s had passed (WeChat answers 42001)."""
        with self._lock:
            for token in self.tokens.values():
                token.expired = True

    def add_handler(self, method: str, path: str, handler: Handler, *, token: bool = False) -> None:
        self.routes[(method.upper(), path)] = _Route(handler, token)

    # Reading what happened --------------------------------------------------------------------------

    def calls(self, path: str, method: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path == path and (method is None or r.method == method.upper())]

    def valid_tokens(self) -> list[str]:
        with self._lock:
            return [t for t, info in self.tokens.items() if not info.expired]

    # The server -------------------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        request = Request(environ)
        received = Received(
            method=request.method,
            path=request.path,
            query=request.args.to_dict(),
            body=request.get_data(),
            headers=dict(request.headers),
        )
        with self._lock:
            self.requests.append(received)
            scripted = self._script[received.path].popleft() if self._script.get(received.path) else None
            route = self.routes.get((received.method, received.path))
        if scripted is not None:
            answer = scripted
        elif route is None:
            answer = Answer({"errcode": 404, "errmsg": f"fake WeChat has no {received.method} {received.path}"}, 404)
        else:
            answer = (route.needs_token and self._check_token(received)) or route.handler(received)
        if isinstance(answer, dict):
            answer = Answer(answer)
        if answer.delay:
            self._stopping.wait(answer.delay)
        body = answer.body
        if isinstance(body, dict):
            body = json.dumps(body, ensure_ascii=False)
        if isinstance(body, str):
            body = body.encode("utf-8")
        response = Response(body or b"", status=answer.status, content_type=answer.content_type)
        return response(environ, start_response)

    def _check_token(self, req: Received) -> Answer | None:
        token = req.access_token
        if not token:
            return Answer.error(41001)
        with self._lock:
            info = self.tokens.get(token)
        if info is None:
            return Answer.error(40001)
        if info.expired:
            return Answer.error(42001)
        return None

    def _check_app(self, appid: str | None, secret: str | None) -> Answer | None:
        if appid not in self.apps:
            return Answer.error(40013)
        if secret != self.apps[appid]:
            return Answer.error(40125)
        return None

    # Endpoints --------------------------------------------------------------------------------------

    @endpoint("GET", "/cgi-bin/token")
    def token(self, req: Received) -> dict[str, Any] | Answer:
        if req.query.get("grant_type") != "client_credential":
            return Answer.error(40002)
        refused = self._check_app(req.query.get("appid"), req.query.get("secret"))
        if refused:
            return refused
        access_token = f"FAKE_TOKEN_{next(self._counter)}_{secrets.token_urlsafe(16)}"
        with self._lock:
            self.tokens[access_token] = Token(appid=req.query["appid"], issued_at=time.time())
        return {"access_token": access_token, "expires_in": 7200}

    @endpoint("GET", "/sns/jscode2session")
    def jscode2session(self, req: Received) -> dict[str, Any] | Answer:
        if req.query.get("grant_type") != "authorization_code":
            return Answer.error(40002)
        refused = self._check_app(req.query.get("appid"), req.query.get("secret"))
        if refused:
            return refused
        with self._lock:
            login = self.logins.get(req.query.get("js_code", ""))
            if login is None:
                return Answer.error(40029)
            if login.used:
                return Answer.error(40163)
            login.used = True
        result = {"session_key": login.session_key, "openid": login.openid}
        if login.unionid:
            result["unionid"] = login.unionid
        return result

    @endpoint("POST", "/wxa/business/getuserphonenumber", token=True)
    def getuserphonenumber(self, req: Received) -> dict[str, Any] | Answer:
        body = req.json
        code = body.get("code") if isinstance(body, dict) else None
        if not code:
            return Answer.error(47001)
        with self._lock:
            if code not in self.phones or code in self.used_phone_codes:
                return Answer.error(40029)
            self.used_phone_codes.add(code)
            country, number = self.phones[code]
            appid = self.tokens[req.access_token or ""].appid
        return {
            "errcode": 0,
            "errmsg": "ok",
            "phone_info": {
                "phoneNumber": number if country == "86" else f"+{country}{number}",
                "purePhoneNumber": number,
                "countryCode": country,
                "watermark": {"timestamp": int(time.time()), "appid": appid},
            },
        }

    def _message(self, kind: str, req: Received) -> dict[str, Any] | Answer:
        body = req.json
        if not isinstance(body, dict):
            return Answer.error(47001)
        if not body.get("touser"):
            return Answer.error(40003)
        if not body.get("template_id"):
            return Answer.error(40037)
        if not isinstance(body.get("data"), dict):
            return Answer.error(47003)
        msgid = next(self._counter)
        with self._lock:
            self.sent_messages.append({"kind": kind, "msgid": msgid, **body})
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    @endpoint("POST", "/cgi-bin/message/template/send", token=True)
    def template_send(self, req: Received) -> dict[str, Any] | Answer:
        """Official Account template message."""
        return self._message("template", req)

    @endpoint("POST", "/cgi-bin/message/subscribe/send", token=True)
    def subscribe_send(self, req: Received) -> dict[str, Any] | Answer:
        """Mini-program subscribe message: spends one credit the user granted, else 43101."""
        body = req.json
        if isinstance(body, dict) and body.get("touser") and body.get("template_id"):
            key = (str(body["touser"]), str(body["template_id"]))
            with self._lock:
                if self.subscriptions.get(key, 0) <= 0:
                    return Answer.error(43101)
                answer = self._message("subscribe", req)
                if isinstance(answer, dict):
                    self.subscriptions[key] -= 1
                return answer
        return self._message("subscribe", req)
