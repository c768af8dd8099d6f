"""Alarm delivery benchmark: how fast the `alerts` worker gets a storm's alarm messages to WeChat while WeChat
takes its time to answer, for each worker pool given.

    .venv/bin/python bench/alarm_delivery.py [--alarms 300] [--wechat-ms 100]
                                             [--pools prefork:2 threads:16] [--database-url …] [--redis-url …]

What it does, in order:

1. drops and recreates the benchmark database (its name must contain "bench"), migrates it to head and adds
   `--alarms` family members who follow the Official Account;
2. starts a fake WeChat (tests/fake_wechat.py) whose template messages take `--wechat-ms` to answer;
3. for each `POOL:CONCURRENCY` of `--pools`: starts `celery -A workers worker -Q alerts --pool POOL
   --concurrency CONCURRENCY --prefetch-multiplier 1` (the deployed alerts worker is `threads:16`, see
   deploy/compose.yaml), commits one alarm message to each family member in one transaction (`notify_many`,
   as an alarm storm does) and times the commit → the last template message at the fake; stops the worker;
4. prints alarms/s per pool, writes `bench/results/alarm-delivery-<time>.json`, drops the database.

It measures; it never asserts a timing. Exit status 0 when every alarm arrived once, 1 otherwise, 2 when
something it needs is missing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
for path in (PROJECT_ROOT, PROJECT_ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from alert_ingestion import start_worker  # noqa: E402
from booking_rush import BenchError, check_redis, drop_database, recreate_database, stop  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/linli_bench_alarm_delivery"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"
MINIAPP = ("wx-bench-app", "bench-app-secret")
OA = ("wx-bench-oa", "bench-oa-secret")
TEMPLATE_SEND = "/cgi-bin/message/template/send"
ALARM = {
    "alert_id": "bench",
    "elder_name": "王阿婆",
    "device_type": "烟感",
    "alert_type": "烟雾报警",
    "occurred_at": "2026-12-03T10:00:00+00:00",
    "address": "控江一村12号楼302室",
    "full_address": "控江路街道控江一村12号楼302室",
    "severity": "critical",
}


def slow_wechat(seconds: float) -> Any:
    from tests.fake_wechat import FakeWechat, endpoint

    class SlowWechat(FakeWechat):
        @endpoint("POST", TEMPLATE_SEND, token=True)
        def template_send(self, req: Any) -> Any:
            time.sleep(seconds)
            return super().template_send(req)

    return SlowWechat(dict([MINIAPP, OA])).start()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--alarms", type=int, default=300, help="alarm messages committed at once")
    parser.add_argument("--wechat-ms", type=float, default=100.0, help="how long each template message takes")
    parser.add_argument("--pools", nargs="+", default=["prefork:2", "threads:16"], help="POOL:CONCURRENCY …")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for a pool's alarms")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    pools = [tuple(p.split(":", 1)) for p in args.pools]
    if any(len(p) != 2 for p in pools):
        print("bench: --pools takes POOL:CONCURRENCY, e.g. threads:16", file=sys.stderr)
        return 2
    url = args.database_url
    tmp = Path(tempfile.mkdtemp(prefix="linli-bench-alarm-delivery-"))
    fake = slow_wechat(args.wechat_ms / 1000)
    created = False
    rows: list[dict[str, Any]] = []
    try:
        check_redis(args.redis_url)
        recreate_database(url)
        created = True
        from alembic import command

        from api import Settings, create_app
        from api.cli import alembic_config
        from api.db import db
        from api.notifications.services import Outgoing, notify_many

        command.upgrade(alembic_config(url), "head")
        secret = secrets.token_urlsafe(48)
        wechat = {
            "WECHAT_MINIAPP_ID": MINIAPP[0],
            "WECHAT_MINIAPP_SECRET": MINIAPP[1],
            "WECHAT_OA_APP_ID": OA[0],
            "WECHAT_OA_SECRET": OA[1],
            "WECHAT_API_BASE_URL": fake.url,
        }
        app = create_app(
            Settings.from_env(
                {"DATABASE_URL": url, "REDIS_URL": args.redis_url, "SECRET_KEY": secret, **wechat}
            ).with_overrides(env="development", instance_path=tmp / "app", celery_always_eager=False)
        )
        from api.accounts.models import User

        with app.app_context():
            family = [
                User(nickname=f"家属{i}", wechat_openid=f"bench-mp-{i}", wechat_oa_openid=f"bench-oa-{i}")
                for i in range(args.alarms)
            ]
            db.session.add_all(family)
            db.session.commit()
            family_ids = [user.id for user in family]
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if k in os.environ}
        env |= {"PYTHONUNBUFFERED": "1", "DATABASE_URL": url, "REDIS_URL": args.redis_url, "SECRET_KEY": secret}
        env |= {"LINLI_INSTANCE_PATH": str(tmp / "worker"), **wechat}
        print(f"{args.alarms} alarms in one commit, WeChat answering in {args.wechat_ms:.0f} ms a call\n", flush=True)
        for pool, concurrency in pools:
            options = ("-Q", "alerts", "--pool", pool, "--concurrency", concurrency, "--prefetch-multiplier", "1")
            worker = start_worker(env, tmp / f"worker-{pool}-{concurrency}.log", options)
            try:
                before, sent_before = len(fake.calls(TEMPLATE_SEND)), len(fake.sent_messages)
                with app.app_context():
                    notify_many([Outgoing(user_id, "device_alert", ALARM, "/KJ/") for user_id in family_ids])
                    start = time.monotonic()
                    db.session.commit()
                deadline = start + args.timeout
                while len(fake.calls(TEMPLATE_SEND)) - before < args.alarms and time.monotonic() < deadline:
                    time.sleep(0.02)
                seconds = time.monotonic() - start
            finally:
                stop(worker)
            arrived = Counter(m["touser"] for m in fake.sent_messages[sent_before:])
            row = {
                "pool": pool,
                "concurrency": int(concurrency),
                "arrived": sum(arrived.values()),
                "twice": sum(1 for n in arrived.values() if n > 1),
                "seconds": round(seconds, 2),
                "alarms_per_s": round(args.alarms / seconds, 1),
            }
            row["ok"] = row["arrived"] == args.alarms and row["twice"] == 0
            rows.append(row)
            verdict = "OK" if row["ok"] else f"FAILED: {row['arrived']} arrived, {row['twice']} twice"
            print(
                f"--pool {pool:8} --concurrency {concurrency:>3}: {row['arrived']:,} alarms at WeChat in "
                f"{seconds:6.1f} s = {row['alarms_per_s']:7.1f} alarms/s  {verdict}",
                flush=True,
            )
        results = PROJECT_ROOT / "bench" / "results"
        results.mkdir(exist_ok=True)
        out = results / f"alarm-delivery-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
        out.write_text(json.dumps({"args": vars(args), "pools": rows}, indent=2))
        print(f"written {out.relative_to(PROJECT_ROOT)}")
        return 0 if all(r["ok"] for r in rows) else 1
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    finally:
        fake.stop()
        if created:
            drop_database(url)


if __name__ == "__main__":
    sys.exit(main())
