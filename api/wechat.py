"""WeChat clients (wechatpy) for the mini-program and the Official Account, and the sandbox.

Every call — the access-token fetch included — goes to `WECHAT_API_BASE_URL`, so the service can sit
behind an egress proxy or face a test double: wechatpy hard-codes `https://api.weixin.qq.com` in places,
so the HTTP session rewrites that prefix. Access tokens live in Redis when `REDIS_URL` is set (shared
by every worker, sparing the daily token quota) and in process memory otherwise.

WeChat's error codes become `ApiError`s a client can act on; an expired access token is refreshed and
the call retried once. In sandbox mode (no `WECHAT_MINIAPP_ID`) no request leaves the machine: a login
code maps deterministically to an openid so the mini-program and the tests can log in offline.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.memorystorage import MemoryStorage

from api.config import DEFAULT_WECHAT_API_BASE_URL, Settings
from api.errors import ApiError

log = logging.getLogger(__name__)

TOKEN_ERRORS = {40001, 40014, 42001}
# Our own setup is wrong (appid, app secret, server IP not on the allow-list): for the operators, not the user.
CONFIG_ERRORS = {40013, 40125, 40164}


class RebasedSession(requests.Session):
    """A requests session that sends what wechatpy addresses to api.weixin.qq.com to `base_url`, and
    never waits without limit (wechatpy's access-token fetch passes no timeout of its own)."""

    def __init__(self, base_url: str, timeout: float | None = None) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        url = url.decode() if isinstance(url, bytes) else url
        if url.startswith(DEFAULT_WECHAT_API_BASE_URL + "/"):
            url = self.base_url + url[len(DEFAULT_WECHAT_API_BASE_URL) :]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().request(method, url, *args, **kwargs)


_memory_token_storage = MemoryStorage()


def _token_storage(settings: Settings) -> Any:
    if settings.redis_url:
        import redis
        from wechatpy.session.redisstorage import RedisStorage

        client = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        return RedisStorage(client, prefix=settings.redis_key_prefix + "wechat")
    return _memory_token_storage


def make_client(appid: str, secret: str, settings: Settings) -> WeChatClient:
    client = WeChatClient(
        appid,
        secret,
        session=_token_storage(settings),
        timeout=settings.wechat_timeout_seconds,
        auto_retry=False,  # we retry once ourselves; wechatpy would retry without bound
    )
    client._http = RebasedSession(settings.wechat_api_base_url, timeout=settings.wechat_timeout_seconds)
    return client


class WechatCallError(Exception):
    """A WeChat call that did not succeed: `errcode` from WeChat, or None when WeChat could not be
    reached or answered something that is not a JSON object."""

    def __init__(self, errcode: int | None, errmsg: str) -> None:
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


def api_error_for(exc: WechatCallError | WeChatClientException) -> ApiError:
    errcode = exc.errcode
    # 40125 (wrong app secret) and 40013 (wrong appid) are our misconfiguration, not the resident's code:
    # they fall through to `wechat_error` (502), which the operators see.
    if errcode in (40029, 41008):
        return ApiError("wechat_code_invalid", errors={"code": [str(exc.errmsg or errcode)]})
    if errcode == 40163:
        return ApiError("wechat_code_used", errors={"code": ["code been used"]})
    if errcode in (45009, 45011):
        return ApiError("wechat_rate_limited", headers={"Retry-After": "60"})
    if errcode == -1:
        return ApiError("wechat_busy", headers={"Retry-After": "5"})
    if errcode is None:
        return ApiError("wechat_unavailable")
    return ApiError("wechat_error", errcode=errcode)


def call_wechat_raw(client: WeChatClient, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one WeChat call; refresh the access token and retry once when WeChat says it expired.

    Raises `WechatCallError`. An answer that is not a JSON object (an HTML page from a proxy, an empty
    body) counts as unreachable: wechatpy hands back the raw `Response` then.
    """
    for attempt in (1, 2):
        try:
            result = call()
            if not isinstance(result, dict):
                log.warning("WeChat answered with something that is not a JSON object: %.200r", result)
                raise WechatCallError(None, "answer is not a JSON object")
            return result
        except WeChatClientException as exc:
            if exc.errcode in TOKEN_ERRORS and attempt == 1:
                log.info("WeChat access token rejected (%s); fetching a new one", exc.errcode)
                try:
                    client.fetch_access_token()
                except WeChatClientException as token_exc:
                    raise WechatCallError(token_exc.errcode, str(token_exc.errmsg)) from token_exc
                except requests.RequestException as net_exc:
                    raise WechatCallError(None, f"unreachable: {type(net_exc).__name__}") from net_exc
                continue
            level = logging.ERROR if exc.errcode in CONFIG_ERRORS else logging.WARNING
            log.log(level, "WeChat call failed: errcode=%s errmsg=%s", exc.errcode, exc.errmsg)
            raise WechatCallError(exc.errcode, str(exc.errmsg)) from exc
        except requests.RequestException as exc:
            log.warning("WeChat unreachable: %s", exc)
            raise WechatCallError(None, f"unreachable: {type(exc).__name__}") from exc
    raise AssertionError("unreachable")


def call_wechat(client: WeChatClient, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`call_wechat_raw` for request handlers: failures become the `ApiError` a client can act on."""
    try:
        return call_wechat_raw(client, call)
    except WechatCallError as exc:
        raise api_error_for(exc) from exc


@dataclass(frozen=True)
class WechatSession:
    openid: str
    unionid: str | None
    session_key: str | None


class MiniProgram(Protocol):
    sandbox: bool

    def code_to_session(self, code: str) -> WechatSession: ...

    def phone_number(self, code: str) -> str: ...


class LiveMiniProgram:
    sandbox = False

    def __init__(self, settings: Settings) -> None:
        self.client = make_client(settings.wechat_miniapp_id, settings.wechat_miniapp_secret, settings)

    def code_to_session(self, code: str) -> WechatSession:
        # Not `client.wxa.code_to_session`: wechatpy would add an access token to the query, fetching one
        # first — jscode2session is authorised by appid and secret alone, and login must neither wait on
        # nor fail with the token endpoint, nor put a token in a URL that does not need it. A None param
        # is left out by requests, and tells wechatpy not to add its own.
        params = {
            "appid": self.client.appid,
            "secret": self.client.secret,
            "js_code": code,
            "grant_type": "authorization_code",
            "access_token": None,
        }
        result = call_wechat(
            self.client,
            lambda: self.client.get(
                "sns/jscode2session", params=params, api_base_url=DEFAULT_WECHAT_API_BASE_URL + "/"
            ),
        )
        if not result.get("openid"):
            raise ApiError("wechat_code_invalid", errors={"code": ["no openid returned"]})
        return WechatSession(result["openid"], result.get("unionid"), result.get("session_key"))

    def phone_number(self, code: str) -> str:
        result = call_wechat(
            self.client,
            lambda: self.client.post(
                "wxa/business/getuserphonenumber",
                data={"code": code},
                api_base_url=DEFAULT_WECHAT_API_BASE_URL + "/",
            ),
        )
        info = result.get("phone_info") or {}
        phone = info.get("purePhoneNumber") or info.get("phoneNumber")
        if not phone:
            raise ApiError("wechat_code_invalid", errors={"phone_code": ["no phone number returned"]})
        return str(phone)


class SandboxMiniProgram:
    """Offline stand-in: any code logs in, the same code always as the same person."""

    sandbox = True

    def __init__(self, settings: Settings) -> None:
        self._key = settings.secret_key.encode()

    def _digest(self, purpose: str, code: str) -> str:
        return hmac.new(self._key, f"{purpose}:{code}".encode(), hashlib.sha256).hexdigest()

    def code_to_session(self, code: str) -> WechatSession:
        return WechatSession(
            openid="sbx-" + self._digest("openid", code)[:24],
            unionid="sbxu-" + self._digest("unionid", code)[:24],
            session_key=None,
        )

    def phone_number(self, code: str) -> str:
        digits = str(int(self._digest("phone", code)[:12], 16))[-8:].rjust(8, "0")
        return "139" + digits


def make_miniprogram(settings: Settings) -> MiniProgram:
    return SandboxMiniProgram(settings) if settings.wechat_sandbox else LiveMiniProgram(settings)
