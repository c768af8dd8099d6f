"""The one door to WeChat Pay API v3: `wechatpayv3` (minibear2021's SDK) signs every request with the merchant's
private key, verifies every answer and notify against the platform's public key (or its certificates), and
decrypts notifies with the API v3 key; this module points it at `WECHAT_PAY_API_BASE_URL`, turns its answers
into Python values and its failures into `WechatPayError`, and adds what the SDK leaves to its caller: the
notify's timestamp window, and the hash check of a downloaded bill.

`Gateway` has two faces: `LiveGateway` (the SDK, for real or against the fake in the tests) and
`SandboxGateway` (no WeChat at all: the embedded default). Services take one as an argument, so they run
without Flask; `get_gateway()` gives the running app's, built once per process and lazily — in the platform
certificate mode the SDK downloads certificates when it is built, and starting the app must not wait on that.

What the SDK does not do that we rely on, and how it is worked around:
- its host is the hard-coded attribute `Core._gate_way`, read on every request — and in the certificate
  mode already inside `Core.__init__` (the certificate download) — so `RebasedCore` makes it a property that
  answers our base URL and ignores the SDK's assignment; signatures cover the path only, so they stay valid
  through a proxy;
- `download_bill(url)` strips its own host from WeChat's `download_url` and would glue anything else to the
  gateway: we hand it the path and query of the URL, whatever host WeChat named;
- it raises bare `Exception`s (an answer that fails verification, a signature type it does not know, an
  unknown certificate serial that is not hex): every call is wrapped, and a notify that makes it raise is a
  notify refused, never a 500;
- in the public-key mode a notify naming any other key id makes it download platform certificates: with no
  certificate folder configured such a notify is refused before the SDK sees it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import secrets
import time
import zlib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.core import Core

from api.config import Settings
from api.fields import LOCAL_TZ

log = logging.getLogger(__name__)

# WeChat Pay's notify headers (the SDK reads them by these names).
NOTIFY_HEADERS = (
    "Wechatpay-Signature",
    "Wechatpay-Timestamp",
    "Wechatpay-Nonce",
    "Wechatpay-Serial",
    "Wechatpay-Signature-Type",
)


class WechatPayError(Exception):
    """WeChat Pay answered with an error (`status` its HTTP status, `code` its error code such as
    `ORDER_NOT_EXIST`), or could not be reached or gave an answer that failed verification (`status` None)."""

    def __init__(self, status: int | None, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    @property
    def unreachable(self) -> bool:
        return self.status is None


class NotifyRefused(Exception):
    """A notify we do not accept; `reason` is logged and told to WeChat Pay (which sends it again)."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Notify:
    """A notify that passed the signature, timestamp and decryption checks: its event and decrypted resource."""

    event_type: str
    resource: dict[str, Any]
    notify_id: str


class Gateway(Protocol):
    sandbox: bool
    mchid: str
    appid: str

    def jsapi(
        self, *, out_trade_no: str, description: str, amount_fen: int, openid: str, expires_at: datetime
    ) -> str: ...

    def pay_params(self, prepay_id: str) -> dict[str, str]: ...

    def query(self, out_trade_no: str) -> dict[str, Any] | None: ...

    def close(self, out_trade_no: str) -> None: ...

    def refund(
        self, *, out_trade_no: str, out_refund_no: str, amount_fen: int, total_fen: int, reason: str
    ) -> dict[str, Any]: ...

    def query_refund(self, out_refund_no: str) -> dict[str, Any] | None: ...

    def trade_bill(self, bill_date: date) -> str | None: ...

    def verify_notify(self, headers: dict[str, str], body: bytes, now: float | None = None) -> Notify: ...


def rfc3339(moment: datetime) -> str:
    """WeChat Pay's time format: Beijing time with its offset, to the second."""
    return moment.astimezone(LOCAL_TZ).isoformat(timespec="seconds")


def parse_time(value: Any) -> datetime | None:
    """A time WeChat Pay wrote (`2026-12-01T10:34:56+08:00`), or None when it is missing or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=LOCAL_TZ)


# ------------------------------------------------------------------------------------------------
# The SDK, pointed at our base URL
# ------------------------------------------------------------------------------------------------


class RebasedCore(Core):
    """`wechatpayv3`'s transport with its host replaced by `gateway` — before `Core.__init__` runs, since
    the certificate mode downloads the platform certificates from inside it."""

    def __init__(self, *, gateway: str, **kwargs: Any) -> None:
        self._linli_gateway = gateway.rstrip("/")
        super().__init__(**kwargs)

    @property
    def _gate_way(self) -> str:  # type: ignore[override]
        return self._linli_gateway

    @_gate_way.setter
    def _gate_way(self, _value: str) -> None:
        pass  # the SDK assigns https://api.mch.weixin.qq.com in __init__: ours stays


class LinliWeChatPay(WeChatPay):
    """`WeChatPay` for a mini-program merchant, on `RebasedCore`. Same attributes as the SDK's own
    constructor sets (its methods read them); only the transport differs."""

    def __init__(
        self,
        *,
        gateway: str,
        mchid: str,
        private_key: str,
        cert_serial_no: str,
        appid: str,
        apiv3_key: str,
        notify_url: str,
        cert_dir: str | None,
        public_key: str | None,
        public_key_id: str | None,
        timeout: float,
    ) -> None:
        self._type = WeChatPayType.MINIPROG
        self._mchid = mchid
        self._appid = appid
        self._notify_url = notify_url
        self._partner_mode = False
        self._core = RebasedCore(
            gateway=gateway,
            mchid=mchid,
            cert_serial_no=cert_serial_no,
            private_key=private_key,
            apiv3_key=apiv3_key,
            cert_dir=cert_dir,
            logger=None,  # its debug lines would log headers and bodies whole
            proxy=None,
            timeout=(min(timeout, 5), timeout),
            public_key=public_key,
            public_key_id=public_key_id,
        )


def _read(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


class LiveGateway:
    """WeChat Pay API v3 through the SDK (at `WECHAT_PAY_API_BASE_URL`)."""

    sandbox = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.mchid = settings.wechat_pay_mchid
        self.appid = settings.wechat_miniapp_id
        self._client: LinliWeChatPay | None = None

    @property
    def client(self) -> LinliWeChatPay:
        if self._client is None:
            s = self.settings
            try:
                self._client = LinliWeChatPay(
                    gateway=s.wechat_pay_api_base_url,
                    mchid=s.wechat_pay_mchid,
                    private_key=_read(s.wechat_pay_private_key_path),
                    cert_serial_no=s.wechat_pay_cert_serial_no,
                    appid=s.wechat_miniapp_id,
                    apiv3_key=s.wechat_pay_apiv3_key,
                    notify_url=s.wechat_pay_notify_url,
                    cert_dir=s.wechat_pay_cert_dir or None,
                    public_key=_read(s.wechat_pay_public_key_path) if s.wechat_pay_public_key_path else None,
                    public_key_id=s.wechat_pay_public_key_id or None,
                    timeout=s.wechat_pay_timeout_seconds,
                )
            except requests.RequestException as exc:
                raise WechatPayError(None, "UNREACHABLE", f"certificates: {type(exc).__name__}") from exc
            except Exception as exc:  # the SDK: no certificate, a key it cannot load
                log.error("WeChat Pay client could not be built: %s", exc)
                raise WechatPayError(None, "CLIENT_SETUP", str(exc)[:200]) from exc
        return self._client

    # Calls -------------------------------------------------------------------------------------------

    def _call(self, what: str, call: Any, *, raw: bool = False) -> tuple[int, Any]:
        """Run one SDK call: (HTTP status, parsed JSON — or the body as bytes with `raw`) for a 2xx, else
        `WechatPayError`."""
        try:
            status, body = call()
        except WechatPayError:
            raise
        except requests.RequestException as exc:
            log.warning("WeChat Pay unreachable (%s): %s", what, exc)
            raise WechatPayError(None, "UNREACHABLE", type(exc).__name__) from exc
        except Exception as exc:
            # The SDK's own: above all "failed to verify the signature" of an answer — as good as no answer.
            log.error("WeChat Pay answer to %s refused: %s", what, exc)
            raise WechatPayError(None, "BAD_ANSWER", str(exc)[:200]) from exc
        if 200 <= status < 300:
            if raw:
                return status, body.encode() if isinstance(body, str) else bytes(body or b"")
            if isinstance(body, str):
                try:
                    return status, json.loads(body) if body else {}
                except ValueError as exc:
                    raise WechatPayError(None, "BAD_ANSWER", "not JSON") from exc
            return status, body
        code, message = "HTTP_" + str(status), ""
        try:
            parsed = json.loads(body) if body else {}
            if isinstance(parsed, dict):
                code, message = str(parsed.get("code") or code), str(parsed.get("message") or "")
        except (ValueError, TypeError):
            pass
        log.warning("WeChat Pay %s answered %s %s: %s", what, status, code, message)
        raise WechatPayError(status, code, message[:200])

    def jsapi(self, *, out_trade_no: str, description: str, amount_fen: int, openid: str, expires_at: datetime) -> str:
        _status, answer = self._call(
            "jsapi",
            lambda: self.client.pay(
                description=description,
                out_trade_no=out_trade_no,
                amount={"total": amount_fen, "currency": "CNY"},
                payer={"openid": openid},
                time_expire=rfc3339(expires_at),
                pay_type=WeChatPayType.MINIPROG,
            ),
        )
        prepay_id = answer.get("prepay_id") if isinstance(answer, dict) else None
        if not isinstance(prepay_id, str) or not prepay_id:
            raise WechatPayError(None, "BAD_ANSWER", "no prepay_id")
        return prepay_id

    def pay_params(self, prepay_id: str) -> dict[str, str]:
        """What `wx.requestPayment` takes: signed with the merchant key over appId, timeStamp, nonceStr, package."""
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(16)
        package = f"prepay_id={prepay_id}"
        sign = self.client.sign([self.appid, timestamp, nonce, package])
        return {
            "appId": self.appid,
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": sign,
        }

    def query(self, out_trade_no: str) -> dict[str, Any] | None:
        """The order as WeChat Pay has it, or None when it has never heard of it."""
        try:
            return self._call("query", lambda: self.client.query(out_trade_no=out_trade_no))[1]
        except WechatPayError as exc:
            if exc.code == "ORDER_NOT_EXIST" or exc.status == 404:
                return None
            raise

    def close(self, out_trade_no: str) -> None:
        self._call("close", lambda: self.client.close(out_trade_no=out_trade_no))

    def refund(
        self, *, out_trade_no: str, out_refund_no: str, amount_fen: int, total_fen: int, reason: str
    ) -> dict[str, Any]:
        return self._call(
            "refund",
            lambda: self.client.refund(
                out_refund_no=out_refund_no,
                amount={"refund": amount_fen, "total": total_fen, "currency": "CNY"},
                out_trade_no=out_trade_no,
                reason=reason or None,
                notify_url=self.settings.wechat_pay_refund_notify,
            ),
        )[1]

    def query_refund(self, out_refund_no: str) -> dict[str, Any] | None:
        try:
            return self._call("query_refund", lambda: self.client.query_refund(out_refund_no=out_refund_no))[1]
        except WechatPayError as exc:
            if exc.code == "RESOURCE_NOT_EXISTS" or exc.status == 404:
                return None
            raise

    def trade_bill(self, bill_date: date) -> str | None:
        """The day's trade bill (all trades, as WeChat Pay's CSV), or None when WeChat Pay has no bill for it (a
        day without trades). The download is checked against the hash WeChat Pay gave with its address."""
        try:
            _status, answer = self._call("tradebill", lambda: self.client.trade_bill(bill_date.isoformat(), "ALL"))
        except WechatPayError as exc:
            if exc.code == "NO_STATEMENT_EXIST":
                return None
            raise
        url = answer.get("download_url") if isinstance(answer, dict) else None
        if not isinstance(url, str) or not url:
            raise WechatPayError(None, "BAD_ANSWER", "no download_url")
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        _status, data = self._call("billdownload", lambda: self.client.download_bill(path), raw=True)
        if data[:2] == b"\x1f\x8b":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error) as exc:
                raise WechatPayError(None, "BAD_ANSWER", "bill is not valid gzip") from exc
        expected = str(answer.get("hash_value") or "").lower()
        algorithm = str(answer.get("hash_type") or "SHA1").lower()
        if algorithm not in ("sha1", "sha256") or hashlib.new(algorithm, data).hexdigest() != expected:
            raise WechatPayError(None, "BAD_ANSWER", "the bill does not match its hash")
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise WechatPayError(None, "BAD_ANSWER", "bill is not UTF-8") from exc

    # Notifies ----------------------------------------------------------------------------------------

    def verify_notify(self, headers: dict[str, str], body: bytes, now: float | None = None) -> Notify:
        """Check a notify the way WeChat Pay asks: its timestamp within the window, its signature against the
        platform key or certificate, its resource decrypted with the API v3 key. `NotifyRefused` otherwise."""
        missing = [name for name in NOTIFY_HEADERS if not headers.get(name)]
        if missing:
            raise NotifyRefused(f"missing headers: {', '.join(missing)}", 401)
        try:
            stamp = int(headers["Wechatpay-Timestamp"])
        except ValueError:
            raise NotifyRefused("Wechatpay-Timestamp is not a number", 401) from None
        window = self.settings.wechat_pay_notify_window_seconds
        if abs((now if now is not None else time.time()) - stamp) > window:
            raise NotifyRefused(f"Wechatpay-Timestamp outside ±{window} s", 401)
        try:
            text = body.decode("utf-8")
            envelope = json.loads(text)
        except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested past the parser's depth
            raise NotifyRefused("the body is not JSON") from None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("resource"), dict):
            raise NotifyRefused("the body is not a WeChat Pay notify")
        key_id = self.settings.wechat_pay_public_key_id
        if key_id and not self.settings.wechat_pay_cert_dir and headers["Wechatpay-Serial"] != key_id:
            raise NotifyRefused("signed with a key that is not the platform public key", 401)
        sdk_headers = {name: headers[name] for name in NOTIFY_HEADERS}
        try:
            signed = self.client._core._verify_signature(sdk_headers, text)
        except WechatPayError:
            raise
        except Exception as exc:  # an unknown signature type, a serial that is not hex …
            raise NotifyRefused(f"signature not verifiable: {str(exc)[:100]}", 401) from None
        if not signed:
            raise NotifyRefused("signature does not verify", 401)
        try:
            decrypted = self.client.callback(sdk_headers, text)
        except Exception as exc:  # an algorithm it does not know, a nonce of the wrong size, bad base64 …
            raise NotifyRefused(f"resource not decryptable: {str(exc)[:100]}") from None
        resource = decrypted.get("resource") if isinstance(decrypted, dict) else None
        if not isinstance(resource, dict):
            raise NotifyRefused("resource not decryptable with the API v3 key")
        return Notify(
            event_type=str(envelope.get("event_type") or ""), resource=resource, notify_id=str(envelope.get("id") or "")
        )


# ------------------------------------------------------------------------------------------------
# The sandbox (embedded default)
# ------------------------------------------------------------------------------------------------


class SandboxGateway:
    """No WeChat Pay: prepay answers parameters marked sandbox, refunds succeed at once, there is no bill.
    A payment is completed or failed by the sandbox-only route instead of a notify."""

    sandbox = True
    mchid = "sandbox"
    appid = "sandbox"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def jsapi(self, *, out_trade_no: str, description: str, amount_fen: int, openid: str, expires_at: datetime) -> str:
        return f"sandbox_{out_trade_no}"

    def pay_params(self, prepay_id: str) -> dict[str, str]:
        return {
            "appId": self.settings.wechat_miniapp_id or "sandbox",
            "timeStamp": str(int(time.time())),
            "nonceStr": secrets.token_hex(16),
            "package": f"prepay_id={prepay_id}",
            "signType": "RSA",
            "paySign": "SANDBOX",
        }

    def query(self, out_trade_no: str) -> dict[str, Any] | None:
        return {"trade_state": "NOTPAY", "out_trade_no": out_trade_no}

    def close(self, out_trade_no: str) -> None:
        return None

    def refund(
        self, *, out_trade_no: str, out_refund_no: str, amount_fen: int, total_fen: int, reason: str
    ) -> dict[str, Any]:
        return {
            "refund_id": "sandbox" + secrets.token_hex(8),
            "out_refund_no": out_refund_no,
            "status": "SUCCESS",
            "success_time": rfc3339(datetime.now(LOCAL_TZ)),
            "amount": {"refund": amount_fen, "total": total_fen, "currency": "CNY"},
        }

    def query_refund(self, out_refund_no: str) -> dict[str, Any] | None:
        return None

    def trade_bill(self, bill_date: date) -> str | None:
        raise WechatPayError(None, "SANDBOX", "the sandbox has no trade bill")

    def verify_notify(self, headers: dict[str, str], body: bytes, now: float | None = None) -> Notify:
        raise NotifyRefused("payments are in sandbox mode: there is no WeChat Pay to send notifies", 404)


def make_gateway(settings: Settings) -> Gateway | None:
    """The live gateway when WeChat Pay is configured, the sandbox in development without it, else None
    (production without payments: they answer 503)."""
    if settings.payments_live:
        return LiveGateway(settings)
    if settings.payments_sandbox:
        return SandboxGateway(settings)
    if settings.payments_mentioned:
        log.warning("WeChat Pay is configured half-way (%s): payments are off", "; ".join(settings.payments_problems()))
    return None
