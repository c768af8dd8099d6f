"""Settings, read from environment variables.

With no variable set the service runs on the embedded default: SQLite in the instance folder, media on
local disk, Celery tasks run eagerly, WeChat in sandbox mode. Each variable switches one part to the
real thing. `Settings.check_production()` refuses unsafe combinations when `LINLI_ENV=production`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_SECRET_KEY = "linli-development-secret-key-change-me-in-production"
DEFAULT_WECHAT_API_BASE_URL = "https://api.weixin.qq.com"
# Live streaming (api/live): development stand-ins; production leaves them empty unless set (live answers 503).
DEV_LIVE_PUSH_KEY = "linli-dev-live-push-key"
DEV_LIVE_PLAY_KEY = "linli-dev-live-play-key"
DEV_LIVE_CALLBACK_SECRET = "linli-dev-live-callback-secret"
# Eldercare (api/eldercare): the Official Account message push token of development; production sets its own.
DEV_WECHAT_OA_TOKEN = "linli-dev-oa-token"
# Device alerts (api/alerts): the IoT platform's development signing secret; production has none unless set.
DEV_IOT_PLATFORM_SECRETS = {"linli-dev": "linli-dev-iot-secret"}
# Payments (api/payments): WeChat Pay API v3's host; every call goes to WECHAT_PAY_API_BASE_URL instead when set.
DEFAULT_WECHAT_PAY_API_BASE_URL = "https://api.mch.weixin.qq.com"
# Shared parking (api/parking): the gate systems' development signing secret; production has none unless set.
DEV_PARKING_GATE_SECRETS = {"linli-gate-dev": "linli-dev-gate-secret"}
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """The service refuses to start with these settings."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def parse_bounds(value: str) -> tuple[float, float, float, float]:
    """`INCIDENTS_BOUNDS` "min_lat,min_lng,max_lat,max_lng" as numbers, or a ConfigError."""
    try:
        min_lat, min_lng, max_lat, max_lng = (float(part) for part in value.split(","))
    except ValueError as exc:
        raise ConfigError(f"INCIDENTS_BOUNDS must be 'min_lat,min_lng,max_lat,max_lng', got {value!r}") from exc
    if not (-90 <= min_lat < max_lat <= 90 and -180 <= min_lng < max_lng <= 180):
        raise ConfigError(f"INCIDENTS_BOUNDS is not a box on the globe: {value!r}")
    return min_lat, min_lng, max_lat, max_lng


def parse_rounding(value: str) -> list[tuple[int, int]]:
    """`VOLUNTEERS_HOURS_ROUNDING` "15:0,45:30,60:60" as [(up to minutes, credited minutes), …]: what part of an
    hour over the whole hours counts as (≤ 15 min → 0, ≤ 45 → half an hour, ≤ 60 → an hour), or a ConfigError."""
    try:
        steps = [tuple(int(n) for n in part.split(":")) for part in value.split(",")]
    except ValueError as exc:
        raise ConfigError(f"VOLUNTEERS_HOURS_ROUNDING must be 'minutes:credited,…', got {value!r}") from exc
    bounds = [step[0] for step in steps]
    if (
        any(len(step) != 2 for step in steps)
        or bounds != sorted(bounds)
        or bounds[-1] != 60
        or any(not 0 <= credit <= 60 for _bound, credit in steps)
    ):
        raise ConfigError(f"VOLUNTEERS_HOURS_ROUNDING must rise to 60 minutes with credits of 0–60: {value!r}")
    return [(bound, credit) for bound, credit in steps]


def parse_days_of_month(name: str, value: str) -> tuple[int, ...]:
    """ "5,20" as days of the month (1–31), or a ConfigError naming the variable; "" for none."""
    try:
        days = tuple(sorted({int(part) for part in value.split(",") if part.strip()}))
    except ValueError as exc:
        raise ConfigError(f"{name} must be days of the month such as '5,20', got {value!r}") from exc
    if any(not 1 <= day <= 31 for day in days):
        raise ConfigError(f"{name} must be days of the month (1–31), got {value!r}")
    return days


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever scheme the deployment wrote."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@dataclass
class Settings:
    env: str = "development"
    secret_key: str = DEFAULT_SECRET_KEY
    instance_path: Path = PROJECT_ROOT / "instance"
    database_url: str = ""
    # A read-only copy (a streaming replica) that list and statistics routes read from; empty: the primary.
    database_read_url: str = ""
    # After a person's write, their reads stay on the primary this long (replication lag): read-your-writes.
    database_read_sticky_seconds: int = 5
    redis_url: str = ""
    # Where the store and the WeChat token cache keep their keys in Redis: tests give each parallel worker its own.
    redis_key_prefix: str = "linli:"
    media_root: Path | None = None

    wechat_miniapp_id: str = ""
    wechat_miniapp_secret: str = ""
    wechat_oa_app_id: str = ""
    wechat_oa_secret: str = ""
    wechat_api_base_url: str = DEFAULT_WECHAT_API_BASE_URL
    wechat_timeout_seconds: int = 5

    s3_endpoint: str = ""
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_bucket: str = "linli"
    s3_secure: bool = True
    s3_region: str = "us-east-1"
    s3_public_url: str = ""

    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    refresh_reuse_grace_seconds: int = 20
    idempotency_ttl_seconds: int = 24 * 3600
    max_json_body_bytes: int = 1024 * 1024
    login_rate_limit_per_minute: int = 30
    # Reverse proxies in front of gunicorn (nginx, a load balancer) whose X-Forwarded-For/-Proto to trust.
    trusted_proxies: int = 0
    staff_lockout_threshold: int = 5
    staff_lockout_seconds: int = 15 * 60
    celery_always_eager: bool | None = None
    # "<kind>.<channel>" -> the template id in the subdistrict's own WeChat accounts.
    wechat_template_ids: dict[str, str] = field(default_factory=dict)
    notification_max_attempts: int = 8
    # Events: missing this many confirmed events within the window suspends booking for a while.
    no_show_limit: int = 3
    no_show_window_days: int = 90
    no_show_suspension_days: int = 30
    notification_retry_base_seconds: int = 30
    # Live streams (api/live): Tencent Cloud CSS-style signed push/play URLs and the stream server's callbacks.
    live_push_domain: str = "livepush.linli.localhost"
    live_play_domain: str = "liveplay.linli.localhost"
    live_push_key: str = DEV_LIVE_PUSH_KEY
    live_play_key: str = DEV_LIVE_PLAY_KEY
    live_app_name: str = "live"
    live_callback_secret: str = DEV_LIVE_CALLBACK_SECRET
    live_replay_base_url: str = ""  # where recordings are served; empty: https://<play domain>/replays
    live_play_url_ttl_seconds: int = 2 * 3600
    live_push_url_grace_seconds: int = 6 * 3600
    live_heartbeat_cap_seconds: int = 60
    live_heartbeat_rate_limit_per_minute: int = 20
    # A session still "live" this long after its event's end lost its on_unpublish (the stream server died).
    live_abandoned_after_seconds: int = 2 * 3600
    # Eldercare (api/eldercare): family invite codes and Official Account link codes live this long;
    # WECHAT_OA_TOKEN is the token configured for the OA message push (signature check).
    eldercare_invite_ttl_hours: int = 24
    oa_link_ttl_minutes: int = 30
    wechat_oa_token: str = DEV_WECHAT_OA_TOKEN
    # Device alerts (api/alerts): per-platform HMAC secrets, replay window, escalation and quiet hours.
    iot_platform_secrets: dict[str, str] = field(default_factory=lambda: dict(DEV_IOT_PLATFORM_SECRETS))
    iot_replay_window_seconds: int = 300
    alerts_critical_escalate_seconds: int = 180
    alerts_warning_escalate_seconds: int = 1800
    alerts_repeat_window_seconds: int = 3600
    alerts_quiet_hours: str = "22-7"
    alerts_daytime_hours: str = "8-20"
    # Open311 GeoReport v2 (api/open311): creating requests per partner key per minute; the discovery contact.
    open311_post_rate_limit_per_minute: int = 60
    open311_contact: str = "控江路街道城市运行管理中心"
    # Incidents (api/incidents): where reports may be (min_lat,min_lng,max_lat,max_lng around 控江路街道),
    # how long a resolved case waits for feedback before it closes itself, reports per resident per hour.
    incidents_bounds: str = "31.265,121.515,31.300,121.555"
    incidents_auto_close_days: int = 7
    incidents_reports_per_hour: int = 20
    # Privacy (api/crypto, api/privacy): keys of phone and ID numbers at rest ("kid:base64key,…", the first
    # current; empty: the development key, refused in production), and the lookup hashes' own key.
    pii_encryption_key: str = ""
    pii_hash_key: str = ""
    # How long an account deletion waits (logging in again cancels it), how long an export can be
    # downloaded, and how long what the retention job removes is kept.
    account_deletion_cooling_off_days: int = 15
    data_export_ttl_days: int = 7
    retention_iot_events_days: int = 180
    retention_delivery_attempts_days: int = 180
    retention_access_log_days: int = 3 * 365
    # Payments (api/payments): WeChat Pay API v3, JSAPI (mini-program) payment. All unset: the sandbox (development)
    # or no payments (production, 503); set half-way: production refuses to start (`payments_problems`).
    wechat_pay_mchid: str = ""
    wechat_pay_private_key_path: str = ""
    wechat_pay_cert_serial_no: str = ""
    wechat_pay_apiv3_key: str = ""
    wechat_pay_notify_url: str = ""
    wechat_pay_refund_notify_url: str = ""  # empty: the payment notify URL with `refund-notify` for `notify`
    # The platform's verification key: the newer "微信支付公钥" (a PEM file and its id, PUB_KEY_ID_…), or the
    # older platform certificates (a folder of PEM files, downloaded into it when empty).
    wechat_pay_public_key_path: str = ""
    wechat_pay_public_key_id: str = ""
    wechat_pay_cert_dir: str = ""
    wechat_pay_api_base_url: str = DEFAULT_WECHAT_PAY_API_BASE_URL
    wechat_pay_timeout_seconds: int = 10
    # A notify's Wechatpay-Timestamp must be within ± this many seconds of our clock.
    wechat_pay_notify_window_seconds: int = 300
    # The most one order may cost, in fen (¥5,000): a domain asking for more has a bug, not a customer.
    payments_max_amount_fen: int = 500_000
    # An order still unpaid this long after its prepay is asked about (its notify may have been lost).
    payments_query_after_seconds: int = 300
    # Volunteers (api/volunteers): an alarm next door (offered to at most N on-duty volunteers within the radius,
    # the first K to accept go), when the exact address shows, the check-in grace, when automatic promotion from
    # the waitlist stops, reminders and the confirmation they ask for, and how hours are rounded.
    volunteers_alert_radius_m: int = 500
    volunteers_alert_offer_count: int = 5
    volunteers_alert_accept_count: int = 2
    volunteers_alert_task_minutes: int = 60
    volunteers_address_lead_minutes: int = 120
    volunteers_checkin_grace_minutes: int = 15
    volunteers_promotion_stop_minutes: int = 60
    volunteers_cancel_cutoff_minutes: int = 1440
    volunteers_reminder_hours: int = 24
    volunteers_confirm_by_minutes: int = 120
    volunteers_code_attempts: int = 5  # wrong or right, per person and task per 10 minutes
    volunteers_hours_rounding: str = "15:0,45:30,60:60"
    # Shared parking (api/parking): gate systems' HMAC secrets (magnetometers sign with the IoT platforms'),
    # how long an unpaid hold and a quote last, the turnover buffer after each booking, free cancellation,
    # no-shows and what repeated ones cost, vehicles per household, the overstay warning, early entry,
    # the magnetometers' debounce, and how far ahead one may book.
    parking_gate_secrets: dict[str, str] = field(default_factory=lambda: dict(DEV_PARKING_GATE_SECRETS))
    parking_hold_minutes: int = 10
    parking_quote_minutes: int = 10
    parking_turnover_buffer_minutes: int = 0
    parking_free_cancel_minutes: int = 60
    parking_no_show_minutes: int = 30
    parking_no_show_limit: int = 3
    parking_no_show_window_days: int = 60
    parking_no_show_suspension_days: int = 30
    parking_vehicles_per_household: int = 3
    parking_overstay_warning_minutes: int = 15
    parking_early_entry_minutes: int = 15
    parking_sensor_occupied_seconds: int = 90
    parking_sensor_vacant_seconds: int = 60
    parking_booking_horizon_days: int = 30
    # Party affairs (api/party): the sign-in window around a meeting's start, the gap that closes a study session,
    # how long a transfer's letter stays valid, the days of the month dues reminders go out, the months unpaid
    # that flag a member to their branch, and how long a dues order may be paid.
    party_sign_in_before_minutes: int = 20
    party_sign_in_after_minutes: int = 20
    party_study_session_gap_minutes: int = 10
    party_transfer_valid_days_in_city: int = 30
    party_transfer_valid_days_out_of_city: int = 90
    party_dues_reminder_days: tuple[int, ...] = (5, 20)
    party_dues_flag_months: int = 6
    party_dues_order_minutes: int = 30
    # Rehabilitation aids lending (api/aids): how long a reservation waits to be picked up at the station, how long
    # its deposit order may be paid, and how many days before the due date the borrower is reminded.
    aids_hold_days: int = 3
    aids_deposit_order_minutes: int = 30
    aids_reminder_days: int = 2
    # Elderly service orders (api/care): how long an offer waits for the worker, how many declines or time-outs
    # before staff are asked, the check-in grace around the window, when an unconfirmed order confirms itself,
    # how long a dispute may be opened, the score that asks staff for a return visit, the share of completed
    # orders sampled for one, how long before the window a worker sees the address, wrong-code attempts, and how
    # long after nobody answered the door staff are told unless the family reports the elder safe.
    care_offer_minutes: int = 15
    care_dispatch_tries: int = 3
    care_checkin_grace_minutes: int = 30
    care_auto_confirm_hours: int = 48
    care_dispute_days: int = 7
    care_low_score: int = 2
    care_sample_percent: int = 5
    care_address_lead_minutes: int = 120
    care_code_attempts: int = 5
    care_welfare_staff_minutes: int = 15
    # Daily meal plans (api/care meals): how many days ahead the beat job orders each plan's meals.
    care_meal_days_ahead: int = 2
    care_coin_value_fen: int = 3000  # one time coin (an hour of volunteer help) pays this much of a service
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        instance = Path(env.get("LINLI_INSTANCE_PATH") or PROJECT_ROOT / "instance")
        settings = cls(
            env=(env.get("LINLI_ENV") or "development").strip().lower(),
            secret_key=env.get("SECRET_KEY") or DEFAULT_SECRET_KEY,
            instance_path=instance,
            database_url=normalise_database_url(env.get("DATABASE_URL", "")),
            database_read_url=normalise_database_url(env.get("DATABASE_READ_URL", "")),
            database_read_sticky_seconds=_int(env, "DATABASE_READ_STICKY_SECONDS", 5),
            redis_url=env.get("REDIS_URL", ""),
            media_root=Path(env["LINLI_MEDIA_ROOT"]) if env.get("LINLI_MEDIA_ROOT") else None,
            wechat_miniapp_id=env.get("WECHAT_MINIAPP_ID", ""),
            wechat_miniapp_secret=env.get("WECHAT_MINIAPP_SECRET", ""),
            wechat_oa_app_id=env.get("WECHAT_OA_APP_ID", ""),
            wechat_oa_secret=env.get("WECHAT_OA_SECRET", ""),
            wechat_api_base_url=(env.get("WECHAT_API_BASE_URL") or DEFAULT_WECHAT_API_BASE_URL).rstrip("/"),
            wechat_timeout_seconds=_int(env, "WECHAT_TIMEOUT_SECONDS", 5),
            s3_endpoint=env.get("S3_ENDPOINT", ""),
            s3_access_key=env.get("S3_ACCESS_KEY", ""),
            s3_secret_key=env.get("S3_SECRET_KEY", ""),
            s3_bucket=env.get("S3_BUCKET") or "linli",
            s3_secure=_bool(env.get("S3_SECURE"), default=True),
            s3_region=env.get("S3_REGION") or "us-east-1",
            s3_public_url=env.get("S3_PUBLIC_URL", "").rstrip("/"),
            access_token_ttl_seconds=_int(env, "ACCESS_TOKEN_TTL_SECONDS", 900),
            refresh_token_ttl_seconds=_int(env, "REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600),
            no_show_limit=_int(env, "EVENTS_NO_SHOW_LIMIT", 3),
            no_show_window_days=_int(env, "EVENTS_NO_SHOW_WINDOW_DAYS", 90),
            no_show_suspension_days=_int(env, "EVENTS_NO_SHOW_SUSPENSION_DAYS", 30),
            trusted_proxies=_int(env, "TRUSTED_PROXIES", 0),
            live_abandoned_after_seconds=_int(env, "LIVE_ABANDONED_AFTER_SECONDS", 2 * 3600),
            login_rate_limit_per_minute=_int(env, "LOGIN_RATE_LIMIT_PER_MINUTE", 30),
            notification_max_attempts=_int(env, "NOTIFICATION_MAX_ATTEMPTS", 8),
            notification_retry_base_seconds=_int(env, "NOTIFICATION_RETRY_BASE_SECONDS", 30),
        )
        if env.get("WECHAT_TEMPLATE_IDS"):
            try:
                ids = json.loads(env["WECHAT_TEMPLATE_IDS"])
            except ValueError as exc:
                raise ConfigError("WECHAT_TEMPLATE_IDS must be a JSON object") from exc
            if not isinstance(ids, dict) or not all(isinstance(v, str) for v in ids.values()):
                raise ConfigError('WECHAT_TEMPLATE_IDS must map "<kind>.<channel>" to template id strings')
            settings.wechat_template_ids = ids
        if "CELERY_ALWAYS_EAGER" in env:
            settings.celery_always_eager = _bool(env["CELERY_ALWAYS_EAGER"])
        settings.live_push_domain = env.get("LIVE_PUSH_DOMAIN") or settings.live_push_domain
        settings.live_play_domain = env.get("LIVE_PLAY_DOMAIN") or settings.live_play_domain
        settings.live_app_name = env.get("LIVE_APP_NAME") or settings.live_app_name
        settings.live_replay_base_url = env.get("LIVE_REPLAY_BASE_URL", "").rstrip("/")
        # Signing keys and the callback secret: development stand-ins, never in production.
        dev = not settings.is_production
        settings.live_push_key = env.get("LIVE_PUSH_KEY") or (DEV_LIVE_PUSH_KEY if dev else "")
        settings.live_play_key = env.get("LIVE_PLAY_KEY") or (DEV_LIVE_PLAY_KEY if dev else "")
        settings.live_callback_secret = env.get("LIVE_CALLBACK_SECRET") or (DEV_LIVE_CALLBACK_SECRET if dev else "")
        settings.wechat_oa_token = env.get("WECHAT_OA_TOKEN") or (DEV_WECHAT_OA_TOKEN if dev else "")
        settings.eldercare_invite_ttl_hours = _int(env, "ELDERCARE_INVITE_TTL_HOURS", 24)
        settings.oa_link_ttl_minutes = _int(env, "OA_LINK_TTL_MINUTES", 30)
        if env.get("IOT_PLATFORM_SECRETS"):
            try:
                secrets = json.loads(env["IOT_PLATFORM_SECRETS"])
            except ValueError as exc:
                raise ConfigError("IOT_PLATFORM_SECRETS must be a JSON object") from exc
            if not isinstance(secrets, dict) or not all(isinstance(v, str) and v for v in secrets.values()):
                raise ConfigError("IOT_PLATFORM_SECRETS must map platform names to non-empty secret strings")
            settings.iot_platform_secrets = secrets
        else:
            settings.iot_platform_secrets = dict(DEV_IOT_PLATFORM_SECRETS) if dev else {}
        settings.iot_replay_window_seconds = _int(env, "IOT_REPLAY_WINDOW_SECONDS", 300)
        settings.alerts_critical_escalate_seconds = _int(env, "ALERTS_CRITICAL_ESCALATE_SECONDS", 180)
        settings.alerts_warning_escalate_seconds = _int(env, "ALERTS_WARNING_ESCALATE_SECONDS", 1800)
        settings.alerts_repeat_window_seconds = _int(env, "ALERTS_REPEAT_WINDOW_SECONDS", 3600)
        settings.alerts_quiet_hours = env.get("ALERTS_QUIET_HOURS") or settings.alerts_quiet_hours
        settings.alerts_daytime_hours = env.get("ALERTS_DAYTIME_HOURS") or settings.alerts_daytime_hours
        settings.open311_post_rate_limit_per_minute = _int(env, "OPEN311_POST_RATE_LIMIT_PER_MINUTE", 60)
        settings.open311_contact = env.get("OPEN311_CONTACT") or settings.open311_contact
        settings.incidents_bounds = env.get("INCIDENTS_BOUNDS") or settings.incidents_bounds
        parse_bounds(settings.incidents_bounds)  # refuse to start with a box that cannot be read
        settings.incidents_auto_close_days = _int(env, "INCIDENTS_AUTO_CLOSE_DAYS", 7)
        settings.incidents_reports_per_hour = _int(env, "INCIDENTS_REPORTS_PER_HOUR", 20)
        settings.pii_encryption_key = env.get("PII_ENCRYPTION_KEY", "")
        settings.pii_hash_key = env.get("PII_HASH_KEY", "")
        settings.account_deletion_cooling_off_days = _int(env, "ACCOUNT_DELETION_COOLING_OFF_DAYS", 15)
        settings.data_export_ttl_days = _int(env, "DATA_EXPORT_TTL_DAYS", 7)
        settings.retention_iot_events_days = _int(env, "RETENTION_IOT_EVENTS_DAYS", 180)
        settings.retention_delivery_attempts_days = _int(env, "RETENTION_DELIVERY_ATTEMPTS_DAYS", 180)
        settings.retention_access_log_days = _int(env, "RETENTION_ACCESS_LOG_DAYS", 3 * 365)
        if settings.pii_encryption_key:
            from api.crypto import Keyring, KeyringError

            try:
                Keyring.parse(settings.pii_encryption_key, settings.pii_hash_key)
            except KeyringError as exc:
                raise ConfigError(str(exc)) from exc
        settings.wechat_pay_mchid = env.get("WECHAT_PAY_MCHID", "").strip()
        settings.wechat_pay_private_key_path = env.get("WECHAT_PAY_PRIVATE_KEY_PATH", "").strip()
        settings.wechat_pay_cert_serial_no = env.get("WECHAT_PAY_CERT_SERIAL_NO", "").strip()
        settings.wechat_pay_apiv3_key = env.get("WECHAT_PAY_APIV3_KEY", "")
        settings.wechat_pay_notify_url = env.get("WECHAT_PAY_NOTIFY_URL", "").strip()
        settings.wechat_pay_refund_notify_url = env.get("WECHAT_PAY_REFUND_NOTIFY_URL", "").strip()
        settings.wechat_pay_public_key_path = env.get("WECHAT_PAY_PUBLIC_KEY_PATH", "").strip()
        settings.wechat_pay_public_key_id = env.get("WECHAT_PAY_PUBLIC_KEY_ID", "").strip()
        settings.wechat_pay_cert_dir = env.get("WECHAT_PAY_CERT_DIR", "").strip()
        settings.wechat_pay_api_base_url = (
            env.get("WECHAT_PAY_API_BASE_URL") or DEFAULT_WECHAT_PAY_API_BASE_URL
        ).rstrip("/")
        settings.wechat_pay_timeout_seconds = _int(env, "WECHAT_PAY_TIMEOUT_SECONDS", 10)
        settings.wechat_pay_notify_window_seconds = _int(env, "WECHAT_PAY_NOTIFY_WINDOW_SECONDS", 300)
        settings.payments_max_amount_fen = _int(env, "PAYMENTS_MAX_AMOUNT_FEN", 500_000)
        settings.payments_query_after_seconds = _int(env, "PAYMENTS_QUERY_AFTER_SECONDS", 300)
        for name in (
            "alert_radius_m",
            "alert_offer_count",
            "alert_accept_count",
            "alert_task_minutes",
            "address_lead_minutes",
            "checkin_grace_minutes",
            "promotion_stop_minutes",
            "cancel_cutoff_minutes",
            "reminder_hours",
            "confirm_by_minutes",
            "code_attempts",
        ):
            attribute = f"volunteers_{name}"
            setattr(settings, attribute, _int(env, attribute.upper(), getattr(settings, attribute)))
        settings.volunteers_hours_rounding = env.get("VOLUNTEERS_HOURS_ROUNDING") or settings.volunteers_hours_rounding
        parse_rounding(settings.volunteers_hours_rounding)  # refuse to start with a rule that cannot be read
        if env.get("PARKING_GATE_SECRETS"):
            try:
                gates = json.loads(env["PARKING_GATE_SECRETS"])
            except ValueError as exc:
                raise ConfigError("PARKING_GATE_SECRETS must be a JSON object") from exc
            if not isinstance(gates, dict) or not all(isinstance(v, str) and v for v in gates.values()):
                raise ConfigError("PARKING_GATE_SECRETS must map gate platform names to non-empty secret strings")
            settings.parking_gate_secrets = gates
        else:
            settings.parking_gate_secrets = dict(DEV_PARKING_GATE_SECRETS) if dev else {}
        for name in (
            "hold_minutes",
            "quote_minutes",
            "turnover_buffer_minutes",
            "free_cancel_minutes",
            "no_show_minutes",
            "no_show_limit",
            "no_show_window_days",
            "no_show_suspension_days",
            "vehicles_per_household",
            "overstay_warning_minutes",
            "early_entry_minutes",
            "sensor_occupied_seconds",
            "sensor_vacant_seconds",
            "booking_horizon_days",
        ):
            value = _int(env, f"PARKING_{name.upper()}", getattr(settings, f"parking_{name}"))
            if value < 0 or (value == 0 and name not in ("turnover_buffer_minutes", "free_cancel_minutes")):
                raise ConfigError(f"PARKING_{name.upper()} must be a positive integer, got {value}")
            setattr(settings, f"parking_{name}", value)
        settings.party_sign_in_before_minutes = _int(env, "PARTY_SIGN_IN_BEFORE_MINUTES", 20)
        settings.party_sign_in_after_minutes = _int(env, "PARTY_SIGN_IN_AFTER_MINUTES", 20)
        settings.party_study_session_gap_minutes = _int(env, "PARTY_STUDY_SESSION_GAP_MINUTES", 10)
        settings.party_transfer_valid_days_in_city = _int(env, "PARTY_TRANSFER_VALID_DAYS_IN_CITY", 30)
        settings.party_transfer_valid_days_out_of_city = _int(env, "PARTY_TRANSFER_VALID_DAYS_OUT_OF_CITY", 90)
        settings.party_dues_reminder_days = parse_days_of_month(
            "PARTY_DUES_REMINDER_DAYS", env.get("PARTY_DUES_REMINDER_DAYS") or "5,20"
        )
        settings.party_dues_flag_months = _int(env, "PARTY_DUES_FLAG_MONTHS", 6)
        settings.party_dues_order_minutes = _int(env, "PARTY_DUES_ORDER_MINUTES", 30)
        for name in (
            "party_sign_in_before_minutes",
            "party_sign_in_after_minutes",
            "party_study_session_gap_minutes",
            "party_transfer_valid_days_in_city",
            "party_transfer_valid_days_out_of_city",
            "party_dues_flag_months",
        ):
            if getattr(settings, name) <= 0:
                raise ConfigError(f"{name.upper()} must be positive")
        for name in (
            "offer_minutes",
            "dispatch_tries",
            "checkin_grace_minutes",
            "auto_confirm_hours",
            "dispute_days",
            "low_score",
            "sample_percent",
            "address_lead_minutes",
            "code_attempts",
            "coin_value_fen",
        ):
            value = _int(env, f"CARE_{name.upper()}", getattr(settings, f"care_{name}"))
            if value < 0 or (value == 0 and name not in ("sample_percent", "checkin_grace_minutes")):
                raise ConfigError(f"CARE_{name.upper()} must be a positive integer, got {value}")
            setattr(settings, f"care_{name}", value)
        settings.care_meal_days_ahead = _int(env, "CARE_MEAL_DAYS_AHEAD", settings.care_meal_days_ahead)
        if not 1 <= settings.care_meal_days_ahead <= 14:
            raise ConfigError("CARE_MEAL_DAYS_AHEAD must be between 1 and 14 days")
        if settings.care_sample_percent > 100 or settings.care_low_score > 5:
            raise ConfigError("CARE_SAMPLE_PERCENT is at most 100 and CARE_LOW_SCORE at most 5")
        if not 1 <= settings.party_dues_order_minutes <= 7 * 24 * 60:
            raise ConfigError("PARTY_DUES_ORDER_MINUTES must be between 1 minute and 7 days (WeChat Pay's limit)")
        settings.aids_hold_days = _int(env, "AIDS_HOLD_DAYS", 3)
        settings.aids_deposit_order_minutes = _int(env, "AIDS_DEPOSIT_ORDER_MINUTES", 30)
        settings.aids_reminder_days = _int(env, "AIDS_REMINDER_DAYS", 2)
        if not 1 <= settings.aids_hold_days <= 30:
            raise ConfigError("AIDS_HOLD_DAYS must be between 1 and 30")
        if not 1 <= settings.aids_deposit_order_minutes <= 7 * 24 * 60:
            raise ConfigError("AIDS_DEPOSIT_ORDER_MINUTES must be between 1 minute and 7 days (WeChat Pay's limit)")
        if not 0 <= settings.aids_reminder_days <= 30:
            raise ConfigError("AIDS_REMINDER_DAYS must be between 0 and 30")
        return settings

    def with_overrides(self, **overrides: Any) -> Settings:
        known = {f.name for f in fields(self)}
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for key, value in overrides.items():
            if key in known:
                values[key] = value
            else:
                values["extra"] = {**values["extra"], key: value}
        return Settings(**values)

    # Derived settings -------------------------------------------------------------------------

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.instance_path / 'linli.sqlite3'}"

    @property
    def uses_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")

    @property
    def wechat_sandbox(self) -> bool:
        return not (self.wechat_miniapp_id and self.wechat_miniapp_secret)

    @property
    def eager_tasks(self) -> bool:
        if self.celery_always_eager is not None:
            return self.celery_always_eager
        return not self.redis_url

    @property
    def media_path(self) -> Path:
        return self.media_root or self.instance_path / "media"

    @property
    def uses_s3(self) -> bool:
        return bool(self.s3_endpoint)

    @property
    def payments_mentioned(self) -> bool:
        """Some WeChat Pay setting is given: the deployment means to take real payments."""
        return any(
            (
                self.wechat_pay_mchid,
                self.wechat_pay_private_key_path,
                self.wechat_pay_cert_serial_no,
                self.wechat_pay_apiv3_key,
                self.wechat_pay_notify_url,
                self.wechat_pay_public_key_path,
                self.wechat_pay_public_key_id,
                self.wechat_pay_cert_dir,
            )
        )

    def payments_problems(self) -> list[str]:
        """What keeps WeChat Pay from working with the settings given (none given: nothing to say)."""
        if not self.payments_mentioned:
            return []
        problems = []
        for name, value in (
            ("WECHAT_PAY_MCHID", self.wechat_pay_mchid),
            ("WECHAT_PAY_PRIVATE_KEY_PATH", self.wechat_pay_private_key_path),
            ("WECHAT_PAY_CERT_SERIAL_NO", self.wechat_pay_cert_serial_no),
            ("WECHAT_PAY_APIV3_KEY", self.wechat_pay_apiv3_key),
            ("WECHAT_PAY_NOTIFY_URL", self.wechat_pay_notify_url),
            ("WECHAT_MINIAPP_ID (the app residents pay in)", self.wechat_miniapp_id),
        ):
            if not value:
                problems.append(f"{name} is not set")
        if self.wechat_pay_apiv3_key and len(self.wechat_pay_apiv3_key.encode()) != 32:
            problems.append("WECHAT_PAY_APIV3_KEY must be the 32-character API v3 key")
        if self.wechat_pay_notify_url and not self.wechat_pay_notify_url.startswith("https://"):
            problems.append("WECHAT_PAY_NOTIFY_URL must be an https:// URL WeChat Pay can reach")
        if self.wechat_pay_private_key_path and not Path(self.wechat_pay_private_key_path).is_file():
            problems.append("WECHAT_PAY_PRIVATE_KEY_PATH is not a readable file")
        if bool(self.wechat_pay_public_key_path) != bool(self.wechat_pay_public_key_id):
            problems.append("WECHAT_PAY_PUBLIC_KEY_PATH and WECHAT_PAY_PUBLIC_KEY_ID go together")
        elif self.wechat_pay_public_key_path and not Path(self.wechat_pay_public_key_path).is_file():
            problems.append("WECHAT_PAY_PUBLIC_KEY_PATH is not a readable file")
        if not (self.wechat_pay_public_key_path or self.wechat_pay_cert_dir):
            problems.append(
                "neither the platform public key (WECHAT_PAY_PUBLIC_KEY_PATH and _ID) nor WECHAT_PAY_CERT_DIR is set"
            )
        if self.payments_max_amount_fen <= 0:
            problems.append("PAYMENTS_MAX_AMOUNT_FEN must be positive")
        return problems

    @property
    def payments_live(self) -> bool:
        """Real WeChat Pay: every setting it needs is given and sound."""
        return self.payments_mentioned and not self.payments_problems()

    @property
    def payments_sandbox(self) -> bool:
        """No WeChat Pay settings outside production: prepay answers parameters marked sandbox, and a
        sandbox-only route completes or fails a payment."""
        return not self.payments_mentioned and not self.is_production

    @property
    def wechat_pay_refund_notify(self) -> str:
        if self.wechat_pay_refund_notify_url:
            return self.wechat_pay_refund_notify_url
        base, _, last = self.wechat_pay_notify_url.rstrip("/").rpartition("/")
        return f"{base}/refund-notify" if last == "notify" else self.wechat_pay_notify_url

    def check_production(self) -> None:
        """Refuse to run production on anything meant for a developer's laptop."""
        if not self.is_production:
            return
        problems = []
        if self.secret_key == DEFAULT_SECRET_KEY or len(self.secret_key) < 32:
            problems.append("SECRET_KEY is the development default or shorter than 32 characters")
        if self.uses_sqlite:
            problems.append("DATABASE_URL is not set (SQLite is for development only)")
        if self.wechat_sandbox:
            problems.append("WECHAT_MINIAPP_ID/WECHAT_MINIAPP_SECRET are not set (WeChat sandbox mode)")
        if not self.redis_url:
            problems.append("REDIS_URL is not set (tasks would run inside web requests)")
        if not self.pii_encryption_key:
            problems.append(
                "PII_ENCRYPTION_KEY is not set (phone and ID numbers would be encrypted with the development key)"
            )
        problems.extend(f"payments configured half-way: {p}" for p in self.payments_problems())
        if problems:
            raise ConfigError("Refusing to start with LINLI_ENV=production: " + "; ".join(problems) + ".")
