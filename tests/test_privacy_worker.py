"""Privacy jobs on a real Celery worker, on PostgreSQL and Redis: an export built by the worker opens as
a ZIP; an erasure whose worker is killed (SIGKILL) in the middle of one domain leaves the domains before
it erased and that one untouched, and the next run finishes it."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from api import Settings, create_app
from api.accounts.models import User
from api.accounts.tasks import ping
from api.db import db, utcnow
from api.extensions import celery
from api.incidents.categories import ensure_default_catalogue
from api.incidents.models import Incident, IncidentCategory
from api.privacy import services as privacy
from api.privacy.models import DataExport, DeletionRequest, DeletionStatus, ExportStatus
from tests.worker_support import (
    READY_TIMEOUT,
    SECRET_KEY,
    Worker,
    deployment_env,
    migrated_database,
    process_globals_restored,
    wait_until,
)

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def rig(pg_url: str, broker_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, Worker, str]]:
    """A database, a worker and an app sending to it through the broker; both see the same media folder."""
    instance = tmp_path_factory.mktemp("privacy-instance")
    with migrated_database(pg_url, prefix="linli_privacy") as url:
        env = deployment_env(
            DATABASE_URL=url, REDIS_URL=broker_url, SECRET_KEY=SECRET_KEY, LINLI_INSTANCE_PATH=str(instance)
        )
        worker = Worker.start(env, instance / "worker.log")
        try:
            with process_globals_restored():
                app = create_app(
                    Settings(
                        env="test",
                        secret_key=SECRET_KEY,
                        instance_path=instance,
                        database_url=url,
                        redis_url=broker_url,
                        celery_always_eager=False,
                    )
                )
                with worker.log_on_failure():
                    worker.wait_ready()
                    assert worker.result(ping.apply_async(), timeout=READY_TIMEOUT) == "pong"
                yield app, worker, url
        finally:
            worker.stop()


def _person(app: Flask, name: str) -> uuid.UUID:
    with app.app_context():
        ensure_default_catalogue()
        user = User(nickname=name, wechat_openid=f"o-{uuid.uuid4().hex[:12]}", phone="13700001234")
        db.session.add(user)
        db.session.flush()
        category = db.session.scalar(select(IncidentCategory).where(IncidentCategory.code == "env.dumping"))
        db.session.add(Incident(category_id=category.id, reporter_id=user.id, description=f"{name}反映：楼道堆物"))
        db.session.commit()
        return user.id


def test_the_worker_builds_an_export_that_opens_as_a_zip(rig):
    app, worker, _url = rig
    user_id = _person(app, "赵六")
    with app.test_request_context(), worker.log_on_failure():
        export = privacy.request_export(db.session.get(User, user_id))
        db.session.commit()  # the build is handed to the worker only now
        export_id = export.id
    with app.app_context(), worker.log_on_failure():

        def ready() -> DataExport | None:
            db.session.remove()
            found = db.session.get(DataExport, export_id)
            return found if found is not None and found.status == ExportStatus.READY else None

        done = wait_until(ready, 60, "the export to be built", worker)
        archive = zipfile.ZipFile(io.BytesIO(Path(app.extensions["linli.storage"].path(done.object_key)).read_bytes()))
        reports = json.loads(archive.read("incidents.json"))["data"]["reports"]
        assert reports[0]["description"] == "赵六反映：楼道堆物"


def test_an_erasure_killed_in_the_middle_is_finished_by_the_next_run(rig):
    app, worker, url = rig
    user_id = _person(app, "钱七")
    with app.app_context():
        db.session.add(
            DeletionRequest(user_id=user_id, status=DeletionStatus.WAITING, due_at=utcnow() - timedelta(minutes=1))
        )
        db.session.commit()
        request_id = db.session.scalar(select(DeletionRequest.id).where(DeletionRequest.user_id == user_id))

    # Another transaction holds the reported case: the incidents eraser waits for it, mid-erasure.
    holder = create_engine(make_url(url), poolclass=NullPool).connect()
    blocking = holder.begin()
    holder.execute(text("SELECT id FROM incidents WHERE reporter_id = :u FOR UPDATE"), {"u": user_id})
    try:
        with app.app_context(), worker.log_on_failure():
            celery.send_task("privacy.erase_due")

            def erased_some() -> list[str] | None:
                db.session.remove()
                request = db.session.get(DeletionRequest, request_id)
                return request.erased_domains if request and "alerts" in request.erased_domains else None

            before_kill = wait_until(erased_some, 60, "the erasure to reach incidents", worker)
            time.sleep(0.5)  # inside the incidents eraser, waiting on the lock
            worker.process.kill()
            worker.process.wait(timeout=10)
    finally:
        blocking.rollback()
        holder.close()

    with app.app_context():
        db.session.remove()
        request = db.session.get(DeletionRequest, request_id)
        assert request.status == DeletionStatus.ERASING
        assert "incidents" not in request.erased_domains and set(before_kill) <= set(request.erased_domains)
        assert db.session.get(User, user_id) is not None
        assert db.session.scalar(select(Incident.reporter_id).where(Incident.reporter_id == user_id)) == user_id

    worker.restart()
    with app.app_context(), worker.log_on_failure():
        worker.wait_ready()
        assert worker.result(celery.send_task("privacy.erase_due"), timeout=60) == 1
        db.session.remove()
        assert db.session.get(User, user_id) is None
        assert db.session.get(DeletionRequest, request_id).status == DeletionStatus.DONE
        assert db.session.scalar(select(Incident.id).where(Incident.description == "钱七反映：楼道堆物")) is not None
