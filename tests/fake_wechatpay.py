"""A local fake of WeChat Pay API v3, for driving the real `wechatpayv3` code path and our notify checks.

`FakeWechatPay` serves on 127.0.0.1 (ephemeral port) from a background thread; point the app at it with
`wechat_pay_api_base_url=fake.url`. Its keys are made per test session with `cryptography` (`TestKeys`): the
merchant's key pair (the app signs with the private half, read from a file; the fake checks every request's
`Authorization` with the public half) and the platform's ("微信支付公钥" mode: the fake signs every answer and
notify with the private half; the app verifies with the public key file and its id). Nothing is committed.

Endpoints, in WeChat Pay's own shapes and error codes:
- `POST /v3/pay/transactions/jsapi` → `{"prepay_id"}`; the same out_trade_no with the same parameters answers
  the same prepay_id (as WeChat Pay does), other parameters 400 `OUT_TRADE_NO_USED`, paid 400 `ORDERPAID`,
  closed 400 `ORDER_CLOSED`;
- `GET /v3/pay/transactions/out-trade-no/{no}?mchid=` → the transaction, or 404 `ORDER_NOT_EXIST`;
- `POST /v3/pay/transactions/out-trade-no/{no}/close` → 204, paid 400 `ORDERPAID`;
- `POST /v3/refund/domestic/refunds` → the refund (`PROCESSING`; the same out_refund_no answers the same
  refund), more than is left 400 `INVALID_REQUEST`, not paid 400 `RESOURCE_NOT_EXISTS`;
- `GET /v3/refund/domestic/refunds/{no}` → the refund, or 404 `RESOURCE_NOT_EXISTS`;
- `GET /v3/bill/tradebill?bill_date=&bill_type=ALL&tar_type=GZIP` → `{"download_url", "hash_type", "hash_value"}`
  (the URL names api.mch.weixin.qq.com, as the real one does), a day without trades 400 `NO_STATEMENT_EXIST`;
- `GET /v3/billdownload/file?token=` → the gzipped bill (CSV, values after a backtick, a summary at the end);
- `GET /v3/certificates` → the platform certificate, encrypted with the API v3 key (the older mode, in which the
  app verifies against downloaded certificates: set `fake.serial = keys.certificate_serial`).

A request whose signature, mchid or serial is wrong gets 401 `SIGN_ERROR`. The resident's side: `pay()` takes
the money and returns the signed, encrypted notify WeChat Pay would send (`Notify`: headers and body), which a
test posts to the app (or `send()`s over HTTP to a served app); `payment_notify()` and `refund_notify()` build
notifies with any part spoiled. `finish_refund()` settles a processing refund. The ledger (`orders`, `refunds`)
is what WeChat Pay holds; `bill_extra()`, `bill_amount()` and `bill_omit()` make the bill differ from it.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import itertools
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from api.fields import LOCAL_TZ

MCHID = "1900000109"
APPID = "wx-test-app"
MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001092025010100000000"
APIV3_KEY = "linlitestapiv3key0123456789abcde"  # 32 bytes
REAL_HOST = "https://api.mch.weixin.qq.com"
BILL_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
    "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
    "手续费,费率,订单金额,申请退款金额,费率备注"
)


def _pem_private(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _pem_public(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@dataclass
class TestKeys:
    """The merchant's and the platform's RSA keys of a test session, and the files the app reads."""

    merchant: rsa.RSAPrivateKey
    platform: rsa.RSAPrivateKey
    merchant_key_path: Path
    platform_public_key_path: Path
    platform_certificate: x509.Certificate

    __test__ = False  # not a test class, whatever pytest thinks of its name

    @property
    def certificate_serial(self) -> str:
        """The platform certificate's serial as WeChat Pay writes it in `Wechatpay-Serial` (hex, upper case)."""
        return format(self.platform_certificate.serial_number, "X")

    @classmethod
    def make(cls, folder: Path) -> TestKeys:
        merchant = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        platform = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        folder.mkdir(parents=True, exist_ok=True)
        merchant_path = folder / "apiclient_key.pem"
        merchant_path.write_text(_pem_private(merchant))
        merchant_path.chmod(0o600)
        platform_path = folder / "pub_key.pem"
        platform_path.write_text(_pem_public(platform.public_key()))
        name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Tenpay.com Root CA (fake)")])
        now = datetime.now(LOCAL_TZ)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(platform.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365))
            .sign(platform, hashes.SHA256())
        )
        return cls(merchant, platform, merchant_path, platform_path, certificate)

    def settings(self, base_url: str) -> dict[str, Any]:
        """The app's settings (as `Settings` fields) for a merchant talking to the fake at `base_url`."""
        return {
            "wechat_miniapp_id": APPID,
            "wechat_pay_mchid": MCHID,
            "wechat_pay_private_key_path": str(self.merchant_key_path),
            "wechat_pay_cert_serial_no": MERCHANT_SERIAL,
            "wechat_pay_apiv3_key": APIV3_KEY,
            "wechat_pay_notify_url": "https://linli.example.cn/api/v1/payments/wechat/notify",
            "wechat_pay_public_key_path": str(self.platform_public_key_path),
            "wechat_pay_public_key_id": PUBLIC_KEY_ID,
            "wechat_pay_api_base_url": base_url,
        }

    def certificate_settings(self, base_url: str, cert_dir: Path) -> dict[str, Any]:
        """The same merchant on the older platform certificates: no public key, a folder to download them into."""
        settings = self.settings(base_url)
        settings.update(wechat_pay_public_key_path="", wechat_pay_public_key_id="", wechat_pay_cert_dir=str(cert_dir))
        return settings

    def env(self, base_url: str) -> dict[str, str]:
        """The same as a deployment's environment variables."""
        return {f"{name.upper()}": str(value) for name, value in self.settings(base_url).items()}


def sign(key: rsa.RSAPrivateKey, message: str) -> str:
    return base64.b64encode(key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(LOCAL_TZ).isoformat(timespec="seconds")


@dataclass
class Notify:
    """A notify as WeChat Pay sends it: the headers and the raw body."""

    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeOrder:
    out_trade_no: str
    appid: str
    description: str
    total: int
    openid: str
    notify_url: str
    time_expire: str
    prepay_id: str
    state: str = "NOTPAY"
    transaction_id: str | None = None
    success_time: datetime | None = None


@dataclass
class FakeRefund:
    out_refund_no: str
    out_trade_no: str
    refund_id: str
    amount: int
    notify_url: str | None
    reason: str | None
    status: str = "PROCESSING"
    created: datetime = field(default_factory=lambda: datetime.now(LOCAL_TZ))
    success_time: datetime | None = None


@dataclass
class Received:
    method: str
    path: str  # with its query, as signed
    body: bytes
    headers: dict[str, str]
    status: int = 0


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"code": code, "message": message}


class FakeWechatPay:
    """The fake WeChat Pay API v3 server. Use as a context manager or call `start()` / `stop()`."""

    def __init__(self, keys: TestKeys, host: str = "127.0.0.1") -> None:
        self.keys = keys
        self.host = host
        self.mchid = MCHID
        self.appid = APPID
        self.orders: dict[str, FakeOrder] = {}
        self.refunds: dict[str, FakeRefund] = {}
        self.requests: list[Received] = []
        self.bills: dict[str, bytes] = {}  # download token -> gzipped bill
        self._extra_lines: dict[date, list[list[str]]] = {}
        self._amount_override: dict[str, int] = {}
        self._omitted: set[str] = set()
        self._failures: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        # When payments and refunds happen, unless a call says: now, or this fixed time (a bill's day must not
        # change under a test running at midnight).
        self.trade_time: datetime | None = None
        # Which platform key id WeChat Pay names in what it signs: the public key's id, or (in the certificate
        # mode) the certificate's serial.
        self.serial = PUBLIC_KEY_ID
        self._lock = threading.RLock()
        self._counter = itertools.count(1)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    # Lifecycle --------------------------------------------------------------------------------------

    def start(self) -> FakeWechatPay:
        if self._server is None:
            self._server = make_server(self.host, self._port or 0, self._wsgi, threaded=True)
            self._port = self._server.server_port
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-wechatpay", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> FakeWechatPay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("the fake WeChat Pay server was never started")
        return f"http://{self.host}:{self._port}"

    def reset(self) -> None:
        with self._lock:
            self.orders.clear()
            self.refunds.clear()
            self.requests.clear()
            self.bills.clear()
            self._extra_lines.clear()
            self._amount_override.clear()
            self._omitted.clear()
            self._failures.clear()
            self.trade_time = None
            self.serial = PUBLIC_KEY_ID

    # Scripting ---------------------------------------------------------------------------------------

    def fail_next(self, path_prefix: str, status: int, code: str, message: str = "fake failure") -> None:
        """The next request whose path starts with `path_prefix` gets this error (after its signature check)."""
        with self._lock:
            self._failures.setdefault(path_prefix, []).append((status, {"code": code, "message": message}))

    def calls(self, path_prefix: str, method: str | None = None) -> list[Received]:
        with self._lock:
            return [
                r for r in self.requests if r.path.startswith(path_prefix) and (method is None or r.method == method)
            ]

    # The resident pays -------------------------------------------------------------------------------

    def pay(self, out_trade_no: str, *, at: datetime | None = None) -> Notify:
        """The resident pays the order in WeChat: the money is taken; the notify WeChat Pay would send is returned."""
        with self._lock:
            order = self.orders[out_trade_no]
            if order.state != "SUCCESS":
                order.state = "SUCCESS"
                order.transaction_id = "4200" + "".join(secrets.choice("0123456789") for _ in range(24))
                order.success_time = (at or self.trade_time or datetime.now(LOCAL_TZ)).replace(microsecond=0)
        return self.payment_notify(out_trade_no)

    def transaction(self, order: FakeOrder) -> dict[str, Any]:
        """The transaction resource (query answer, notify resource) of an order."""
        result: dict[str, Any] = {
            "appid": order.appid,
            "mchid": self.mchid,
            "out_trade_no": order.out_trade_no,
            "trade_state": order.state,
            "trade_state_desc": {"SUCCESS": "支付成功", "NOTPAY": "未支付", "CLOSED": "已关闭"}.get(order.state, ""),
            "amount": {"total": order.total, "currency": "CNY", "payer_total": order.total, "payer_currency": "CNY"},
            "payer": {"openid": order.openid},
        }
        if order.transaction_id:
            result.update(
                transaction_id=order.transaction_id,
                trade_type="JSAPI",
                bank_type="OTHERS",
                success_time=rfc3339(order.success_time or datetime.now(LOCAL_TZ)),
            )
        return result

    def payment_notify(self, out_trade_no: str, **spoil: Any) -> Notify:
        """The TRANSACTION.SUCCESS notify of a paid order; `spoil` changes what a test wants wrong: `resource`
        (entries replaced), `timestamp`, `signer` (another private key), `apiv3_key`, `signature`, `serial`,
        `body` (raw bytes instead)."""
        with self._lock:
            resource = self.transaction(self.orders[out_trade_no])
        resource.update(spoil.pop("resource", {}))
        return self._notify("TRANSACTION.SUCCESS", "transaction", "支付成功", resource, **spoil)

    def refund_resource(self, refund: FakeRefund) -> dict[str, Any]:
        order = self.orders[refund.out_trade_no]
        result: dict[str, Any] = {
            "mchid": self.mchid,
            "out_trade_no": refund.out_trade_no,
            "transaction_id": order.transaction_id,
            "out_refund_no": refund.out_refund_no,
            "refund_id": refund.refund_id,
            "refund_status": refund.status,
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": order.total,
                "refund": refund.amount,
                "payer_total": order.total,
                "payer_refund": refund.amount,
            },
        }
        if refund.success_time is not None:
            result["success_time"] = rfc3339(refund.success_time)
        return result

    def finish_refund(self, out_refund_no: str, status: str = "SUCCESS", *, at: datetime | None = None) -> Notify:
        """WeChat Pay settles a processing refund (SUCCESS, CLOSED or ABNORMAL); its refund notify is returned."""
        with self._lock:
            refund = self.refunds[out_refund_no]
            refund.status = status
            if status == "SUCCESS":
                refund.success_time = (at or self.trade_time or datetime.now(LOCAL_TZ)).replace(microsecond=0)
            resource = self.refund_resource(refund)
        return self._notify(f"REFUND.{status}", "refund", "退款成功", resource)

    def refund_notify(self, out_refund_no: str, **spoil: Any) -> Notify:
        with self._lock:
            resource = self.refund_resource(self.refunds[out_refund_no])
        resource.update(spoil.pop("resource", {}))
        return self._notify(f"REFUND.{resource['refund_status']}", "refund", "退款", resource, **spoil)

    def _notify(
        self,
        event_type: str,
        original_type: str,
        summary: str,
        resource: dict[str, Any],
        *,
        timestamp: int | None = None,
        signer: rsa.RSAPrivateKey | None = None,
        apiv3_key: str = APIV3_KEY,
        signature: str | None = None,
        serial: str | None = None,
        body: bytes | None = None,
    ) -> Notify:
        nonce = secrets.token_urlsafe(9)[:12]
        plain = json.dumps(resource, ensure_ascii=False).encode()
        ciphertext = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), plain, original_type.encode())
        envelope = {
            "id": str(uuid.uuid4()),
            "create_time": rfc3339(datetime.now(LOCAL_TZ)),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(ciphertext).decode(),
                "associated_data": original_type,
                "nonce": nonce,
            },
        }
        raw = body if body is not None else json.dumps(envelope, ensure_ascii=False).encode()
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        header_nonce = secrets.token_hex(16)
        text = raw.decode("utf-8", errors="replace")
        return Notify(
            headers={
                "Content-Type": "application/json",
                "Wechatpay-Timestamp": stamp,
                "Wechatpay-Nonce": header_nonce,
                "Wechatpay-Signature": signature
                or sign(signer or self.keys.platform, f"{stamp}\n{header_nonce}\n{text}\n"),
                "Wechatpay-Serial": serial or self.serial,
                "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
            },
            body=raw,
        )

    @staticmethod
    def send(notify: Notify, url: str) -> requests.Response:
        """Deliver a notify over HTTP, as WeChat Pay does."""
        return requests.post(url, data=notify.body, headers=notify.headers, timeout=10)

    # The bill ----------------------------------------------------------------------------------------

    def bill_extra(self, bill_date: date, out_trade_no: str, amount_fen: int) -> str:
        """A payment in the bill that we never heard of (paid there, not here); returns its transaction id."""
        transaction_id = "4200" + "".join(secrets.choice("0123456789") for _ in range(24))
        with self._lock:
            self._extra_lines.setdefault(bill_date, []).append(
                self._line(
                    datetime.combine(bill_date, datetime.min.time(), tzinfo=LOCAL_TZ).replace(hour=12),
                    transaction_id,
                    out_trade_no,
                    "SUCCESS",
                    amount_fen,
                )
            )
        return transaction_id

    def bill_amount(self, number: str, amount_fen: int) -> None:
        """The bill shows another amount for this payment (out_trade_no) or refund (out_refund_no)."""
        with self._lock:
            self._amount_override[number] = amount_fen

    def bill_omit(self, number: str) -> None:
        """The bill leaves out this payment or refund."""
        with self._lock:
            self._omitted.add(number)

    @staticmethod
    def _yuan(fen: int) -> str:
        return f"{fen // 100}.{fen % 100:02d}"

    def _line(
        self,
        when: datetime,
        transaction_id: str,
        out_trade_no: str,
        state: str,
        amount: int,
        refund: FakeRefund | None = None,
    ) -> list[str]:
        y = self._yuan
        refund_fields = (
            [refund.refund_id, refund.out_refund_no, y(refund.amount), "0.00", "ORIGINAL", "SUCCESS"]
            if refund
            else ["0", "", "0.00", "0.00", "", ""]
        )
        return [
            when.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S"),
            self.appid,
            self.mchid,
            "0",
            "",
            transaction_id,
            out_trade_no,
            "oFAKEopenid",
            "JSAPI",
            state,
            "OTHERS",
            "CNY",
            y(amount) if not refund else "0.00",
            "0.00",
            *refund_fields,
            "商品",
            "",
            "0.00",
            "0.60%",
            y(amount) if not refund else "0.00",
            y(refund.amount) if refund else "0.00",
            "",
        ]

    def bill_text(self, bill_date: date) -> str | None:
        """The ALL trade bill of a day as WeChat Pay writes it (None: no trades that day)."""
        with self._lock:
            lines: list[list[str]] = []
            for order in self.orders.values():
                if order.success_time and order.success_time.astimezone(LOCAL_TZ).date() == bill_date:
                    if order.out_trade_no in self._omitted:
                        continue
                    amount = self._amount_override.get(order.out_trade_no, order.total)
                    lines.append(
                        self._line(
                            order.success_time, order.transaction_id or "", order.out_trade_no, "SUCCESS", amount
                        )
                    )
            for refund in self.refunds.values():
                if refund.success_time and refund.success_time.astimezone(LOCAL_TZ).date() == bill_date:
                    if refund.out_refund_no in self._omitted:
                        continue
                    shown = dataclasses.replace(
                        refund, amount=self._amount_override.get(refund.out_refund_no, refund.amount)
                    )
                    order = self.orders[refund.out_trade_no]
                    lines.append(
                        self._line(
                            refund.success_time,
                            order.transaction_id or "",
                            refund.out_trade_no,
                            "REFUND",
                            order.total,
                            shown,
                        )
                    )
            lines.extend(self._extra_lines.get(bill_date, []))
        if not lines:
            return None
        paid = sum(int(Decimal(line[24]) * 100) for line in lines if line[9] == "SUCCESS")
        refunded = sum(int(Decimal(line[25]) * 100) for line in lines if line[9] == "REFUND")
        body = [BILL_HEADER]
        body += [",".join("`" + cell for cell in line) for line in lines]
        body.append("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额")
        body.append(
            ",".join(
                "`" + v
                for v in (
                    str(len(lines)),
                    self._yuan(paid),
                    self._yuan(refunded),
                    "0.00",
                    "0.00",
                    self._yuan(paid),
                    self._yuan(refunded),
                )
            )
        )
        return "\n".join(body) + "\n"

    # The server --------------------------------------------------------------------------------------

    def _signed_response(self, status: int, payload: Any, *, sign_it: bool = True) -> Response:
        if status == 204:
            text = ""
            response = Response(b"", status=204)
        else:
            text = json.dumps(payload, ensure_ascii=False)
            response = Response(text.encode(), status=status, content_type="application/json; charset=utf-8")
        if sign_it:
            stamp, nonce = str(int(time.time())), secrets.token_hex(16)
            response.headers["Wechatpay-Timestamp"] = stamp
            response.headers["Wechatpay-Nonce"] = nonce
            response.headers["Wechatpay-Serial"] = self.serial
            response.headers["Wechatpay-Signature-Type"] = "WECHATPAY2-SHA256-RSA2048"
            response.headers["Wechatpay-Signature"] = sign(self.keys.platform, f"{stamp}\n{nonce}\n{text}\n")
        response.headers["Request-ID"] = f"fake-{next(self._counter)}"
        return response

    def _check_authorization(self, received: Received) -> bool:
        header = received.headers.get("Authorization", "")
        scheme, _, params = header.partition(" ")
        if scheme != "WECHATPAY2-SHA256-RSA2048":
            return False
        values = dict(part.split("=", 1) for part in params.split(",") if "=" in part)
        values = {k.strip(): v.strip().strip('"') for k, v in values.items()}
        if values.get("mchid") != self.mchid or values.get("serial_no") != MERCHANT_SERIAL:
            return False
        if abs(time.time() - int(values.get("timestamp", "0"))) > 300:
            return False
        message = f"{received.method}\n{received.path}\n{values['timestamp']}\n{values.get('nonce_str', '')}\n"
        message += received.body.decode() + "\n"
        try:
            self.keys.merchant.public_key().verify(
                base64.b64decode(values.get("signature", "")), message.encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except Exception:
            return False
        return True

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        request = Request(environ)
        query = request.query_string.decode()
        received = Received(
            request.method,
            request.path + (f"?{query}" if query else ""),
            request.get_data(),
            dict(request.headers),
        )
        with self._lock:
            self.requests.append(received)
        if request.path == "/v3/billdownload/file":
            token = parse_qs(query).get("token", [""])[0]
            with self._lock:
                data = self.bills.get(token)
            response = (
                Response(data, content_type="application/octet-stream")
                if data is not None and self._check_authorization(received)
                else self._signed_response(*_error(400, "INVALID_REQUEST", "bad token or signature"))
            )
            received.status = response.status_code
            return response(environ, start_response)
        if not self._check_authorization(received):
            status, payload = _error(401, "SIGN_ERROR", "签名错误")
        else:
            status, payload = self._scripted(received) or self._route(request, received)
        received.status = status
        return self._signed_response(status, payload)(environ, start_response)

    def _scripted(self, received: Received) -> tuple[int, Any] | None:
        with self._lock:
            for prefix, queue in self._failures.items():
                if received.path.startswith(prefix) and queue:
                    return queue.pop(0)
        return None

    def _route(self, request: Request, received: Received) -> tuple[int, Any]:
        path = request.path
        body = json.loads(received.body) if received.body else {}
        if request.method == "POST" and path == "/v3/pay/transactions/jsapi":
            return self._jsapi(body)
        if path.startswith("/v3/pay/transactions/out-trade-no/"):
            rest = path[len("/v3/pay/transactions/out-trade-no/") :]
            if request.method == "POST" and rest.endswith("/close"):
                return self._close(rest[: -len("/close")], body)
            if request.method == "GET":
                if request.args.get("mchid") != self.mchid:
                    return _error(400, "PARAM_ERROR", "mchid")
                with self._lock:
                    order = self.orders.get(rest)
                    return (200, self.transaction(order)) if order else _error(404, "ORDER_NOT_EXIST", "订单不存在")
        if request.method == "POST" and path == "/v3/refund/domestic/refunds":
            return self._refund(body)
        if request.method == "GET" and path.startswith("/v3/refund/domestic/refunds/"):
            with self._lock:
                refund = self.refunds.get(path.rsplit("/", 1)[-1])
                if refund is None:
                    return _error(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
                return 200, self._refund_answer(refund)
        if request.method == "GET" and path == "/v3/bill/tradebill":
            return self._tradebill(request)
        if request.method == "GET" and path == "/v3/certificates":
            return self._certificates()
        return _error(404, "NOT_FOUND", f"fake WeChat Pay has no {request.method} {path}")

    def _jsapi(self, body: dict[str, Any]) -> tuple[int, Any]:
        if body.get("mchid") != self.mchid or body.get("appid") != self.appid:
            return _error(400, "PARAM_ERROR", "appid 与 mchid 不匹配")
        amount = body.get("amount") or {}
        if not isinstance(amount.get("total"), int) or amount["total"] <= 0:
            return _error(400, "PARAM_ERROR", "amount.total")
        openid = (body.get("payer") or {}).get("openid")
        if not openid or not body.get("notify_url") or not body.get("description"):
            return _error(400, "PARAM_ERROR", "missing fields")
        number = body["out_trade_no"]
        with self._lock:
            order = self.orders.get(number)
            if order is not None:
                if order.state == "SUCCESS":
                    return _error(400, "ORDERPAID", "该订单已支付")
                if order.state == "CLOSED":
                    return _error(400, "ORDER_CLOSED", "订单已关闭")
                same = (order.description, order.total, order.openid, order.time_expire) == (
                    body["description"],
                    amount["total"],
                    openid,
                    body.get("time_expire", ""),
                )
                if not same:
                    return _error(400, "OUT_TRADE_NO_USED", "商户订单号重复")
                return 200, {"prepay_id": order.prepay_id}
            order = FakeOrder(
                out_trade_no=number,
                appid=body["appid"],
                description=body["description"],
                total=amount["total"],
                openid=openid,
                notify_url=body["notify_url"],
                time_expire=body.get("time_expire", ""),
                prepay_id=f"wx{secrets.token_hex(15)}",
            )
            self.orders[number] = order
        return 200, {"prepay_id": order.prepay_id}

    def _close(self, number: str, body: dict[str, Any]) -> tuple[int, Any]:
        if body.get("mchid") != self.mchid:
            return _error(400, "PARAM_ERROR", "mchid")
        with self._lock:
            order = self.orders.get(number)
            if order is None:
                return _error(404, "ORDER_NOT_EXIST", "订单不存在")
            if order.state == "SUCCESS":
                return _error(400, "ORDERPAID", "订单已支付")
            order.state = "CLOSED"
        return 204, None

    def _refund_answer(self, refund: FakeRefund) -> dict[str, Any]:
        order = self.orders[refund.out_trade_no]
        answer = {
            "refund_id": refund.refund_id,
            "out_refund_no": refund.out_refund_no,
            "transaction_id": order.transaction_id,
            "out_trade_no": refund.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": rfc3339(refund.created),
            "status": refund.status,
            "amount": {
                "total": order.total,
                "refund": refund.amount,
                "payer_total": order.total,
                "payer_refund": refund.amount,
                "currency": "CNY",
            },
        }
        if refund.success_time:
            answer["success_time"] = rfc3339(refund.success_time)
        return answer

    def _refund(self, body: dict[str, Any]) -> tuple[int, Any]:
        number = body.get("out_refund_no")
        amount = body.get("amount") or {}
        with self._lock:
            existing = self.refunds.get(number or "")
            if existing is not None:
                if existing.amount != amount.get("refund") or existing.out_trade_no != body.get("out_trade_no"):
                    return _error(400, "INVALID_REQUEST", "退款单号重复，参数不一致")
                return 200, self._refund_answer(existing)
            order = self.orders.get(body.get("out_trade_no") or "")
            if order is None or order.state not in ("SUCCESS", "REFUND"):
                return _error(400, "RESOURCE_NOT_EXISTS", "订单不存在或未支付")
            if amount.get("total") != order.total or amount.get("currency") != "CNY":
                return _error(400, "PARAM_ERROR", "订单金额不一致")
            taken = sum(
                r.amount for r in self.refunds.values() if r.out_trade_no == order.out_trade_no and r.status != "CLOSED"
            )
            refund_amount = amount.get("refund")
            if not isinstance(refund_amount, int) or refund_amount <= 0 or taken + refund_amount > order.total:
                return _error(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
            refund = FakeRefund(
                out_refund_no=number,
                out_trade_no=order.out_trade_no,
                refund_id="5030" + "".join(secrets.choice("0123456789") for _ in range(25)),
                amount=refund_amount,
                notify_url=body.get("notify_url"),
                reason=body.get("reason"),
            )
            self.refunds[number] = refund
            return 200, self._refund_answer(refund)

    def _certificates(self) -> tuple[int, Any]:
        """The platform certificates, each encrypted with the API v3 key (the older verification mode)."""
        certificate = self.keys.platform_certificate
        nonce = secrets.token_urlsafe(9)[:12]
        pem = certificate.public_bytes(serialization.Encoding.PEM)
        ciphertext = AESGCM(APIV3_KEY.encode()).encrypt(nonce.encode(), pem, b"certificate")
        return 200, {
            "data": [
                {
                    "serial_no": self.keys.certificate_serial,
                    "effective_time": rfc3339(certificate.not_valid_before_utc),
                    "expire_time": rfc3339(certificate.not_valid_after_utc),
                    "encrypt_certificate": {
                        "algorithm": "AEAD_AES_256_GCM",
                        "nonce": nonce,
                        "associated_data": "certificate",
                        "ciphertext": base64.b64encode(ciphertext).decode(),
                    },
                }
            ]
        }

    def _tradebill(self, request: Request) -> tuple[int, Any]:
        if request.args.get("bill_type") != "ALL" or request.args.get("tar_type") != "GZIP":
            return _error(400, "PARAM_ERROR", "bill_type/tar_type")
        try:
            bill_date = date.fromisoformat(request.args.get("bill_date", ""))
        except ValueError:
            return _error(400, "PARAM_ERROR", "bill_date")
        text = self.bill_text(bill_date)
        if text is None:
            return _error(400, "NO_STATEMENT_EXIST", "账单文件不存在")
        raw = text.encode("utf-8")
        token = secrets.token_urlsafe(16)
        with self._lock:
            self.bills[token] = gzip.compress(raw)
        return 200, {
            "hash_type": "SHA1",
            "hash_value": hashlib.sha1(raw).hexdigest(),
            "download_url": f"{REAL_HOST}/v3/billdownload/file?token={token}",
        }
