"""deploy/compose.yaml stays true to the code: every service's command is one the project has.

An operator runs what compose.yaml says; a renamed module, a dropped CLI command or a queue nobody routes to
would surface only on the day of a release. So: the web command is the Dockerfile's CMD, `celery -A workers`
finds a Celery app with a beat schedule, the migration command exists in the project's CLI, nginx's upstream
is the web service on the port gunicorn binds, every image is real and pinned, every long-running service
has a healthcheck, every variable compose needs is in deploy/.env.example, and the worker queues are the
project's queues, each with a worker.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from typing import Any

import pytest
import yaml

from tests.conftest import project_root

ROOT = project_root()
DEPLOY = ROOT / "deploy"
THIRD_PARTY = {"postgres", "redis", "minio", "nginx"}
# One-shot or singletons whose health is their exit status (migrate) or that serve nothing to probe (beat).
NO_HEALTHCHECK = {"migrate", "beat"}

# What `celery -A workers` and `flask --app wsgi` really load, asked of a process of their own (as the
# container would run them: the environment alone, here the SQLite default in a temporary instance folder).
PROBE = """
import json, workers
from wsgi import app as flask_app
celery = workers.app
conf = celery.conf
queues = [q.name for q in (conf.task_queues or [])]
routes = conf.task_routes
route_queues = []
if isinstance(routes, dict):
    route_queues = [r.get("queue") if isinstance(r, dict) else r for r in routes.values()]
elif isinstance(routes, (list, tuple)):
    for item in routes:
        if isinstance(item, dict):
            route_queues += [r.get("queue") if isinstance(r, dict) else r for r in item.values()]
import api.jobs as jobs
table = []
for name, value in vars(jobs).items():
    if name.isupper() and ("QUEUE" in name or "ROUTE" in name):
        values = value
        if isinstance(value, dict):
            values = value.values()
        elif not isinstance(value, (list, tuple, set, frozenset)):
            values = [value]
        for v in values:
            if isinstance(v, str):
                table.append(v)
            elif isinstance(v, dict) and isinstance(v.get("queue"), str):
                table.append(v["queue"])
db = flask_app.cli.commands.get("db")
print("PROBE " + json.dumps({
    "celery_main": celery.main,
    "beat": sorted(conf.beat_schedule or {}),
    "default_queue": conf.task_default_queue,
    "queues": queues,
    "route_queues": [q for q in route_queues if isinstance(q, str)],
    "jobs_table": table,
    "flask_commands": sorted(flask_app.cli.commands),
    "db_commands": sorted(db.commands) if db is not None and hasattr(db, "commands") else [],
}))
"""


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    env |= {"PYTHONPATH": str(ROOT), "LINLI_INSTANCE_PATH": str(tmp_path_factory.mktemp("deploy-probe"))}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("PROBE ")), None)
    assert done.returncode == 0 and line, done.stderr[-3000:]
    return json.loads(line.removeprefix("PROBE "))


def command_of(service: dict[str, Any]) -> list[str]:
    command = service.get("command")
    assert command, "an app service without a command would run the image's default (the web)"
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def app_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services.items() if name not in THIRD_PARTY}


def option(argv: list[str], *names: str) -> str | None:
    for i, part in enumerate(argv):
        for name in names:
            if part == name and i + 1 < len(argv):
                return argv[i + 1]
            if part.startswith(name + "="):
                return part.split("=", 1)[1]
    return None


def test_the_stack_has_every_part_the_brief_names(services: dict[str, dict[str, Any]]) -> None:
    assert {"postgres", "redis", "minio", "migrate", "web", "beat", "nginx"} <= set(services)
    workers = [
        n for n, s in app_services(services).items() if command_of(s)[:4] == ["celery", "-A", "workers", "worker"]
    ]
    assert len(workers) >= 2, "workers per queue: the alarm queue has a worker of its own"
    beats = [n for n, s in app_services(services).items() if command_of(s)[:4] == ["celery", "-A", "workers", "beat"]]
    assert beats == ["beat"], "exactly one beat: two would send every periodic job twice"


def test_images_are_real_and_pinned_and_the_app_is_built_from_the_dockerfile(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in THIRD_PARTY:
        image = services[name]["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: pin a release of {image}"
    for name, service in app_services(services).items():
        build = service["build"]
        dockerfile = (DEPLOY / build["context"]).resolve() / build.get("dockerfile", "Dockerfile")
        assert dockerfile == ROOT / "Dockerfile" and dockerfile.exists(), name


def test_every_long_running_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        check = service.get("healthcheck") or {}
        if name in NO_HEALTHCHECK:
            # The image's own HEALTHCHECK probes the web port, which these do not serve.
            assert check.get("disable") is True, f"{name}: disable the image's web healthcheck"
            continue
        assert check.get("test"), f"{name} has no healthcheck"
        assert not check.get("disable"), name


def test_the_web_command_is_the_dockerfiles_and_serves_the_wsgi_app(services: dict[str, dict[str, Any]]) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r"^CMD\s+(\[.*\])\s*$", dockerfile, re.MULTILINE)
    assert cmd, "the Dockerfile has an exec-form CMD"
    web = command_of(services["web"])
    assert web == json.loads(cmd.group(1))
    assert web[:3] == ["gunicorn", "-c", "gunicorn.conf.py"] and (ROOT / "gunicorn.conf.py").exists()
    module, _, attribute = web[-1].partition(":")
    assert (ROOT / f"{module}.py").exists() and re.search(
        rf"^{attribute}\s*=", (ROOT / f"{module}.py").read_text(), re.M
    )
    # The Dockerfile copies what the commands need into the image.
    for needed in ("api", "workers", "migrations", "wsgi.py", "gunicorn.conf.py"):
        assert re.search(rf"^COPY .*\b{re.escape(needed)}\b", dockerfile, re.MULTILINE), needed


def test_celery_commands_find_the_app_and_the_beat_schedule(
    services: dict[str, dict[str, Any]], project: dict[str, Any]
) -> None:
    assert project["celery_main"], "celery -A workers finds a Celery app"
    assert project["beat"], "the beat has periodic jobs to send"
    for name, service in app_services(services).items():
        argv = command_of(service)
        if argv[0] != "celery":
            continue
        assert argv[1:3] == ["-A", "workers"] and (ROOT / "workers" / "__init__.py").exists(), name
        assert argv[3] in ("worker", "beat"), name


def test_the_migration_command_exists_in_the_projects_cli(
    services: dict[str, dict[str, Any]], project: dict[str, Any]
) -> None:
    argv = command_of(services["migrate"])
    assert argv[:3] == ["flask", "--app", "wsgi"]
    group, sub = argv[3], argv[4]
    assert group in project["flask_commands"] and sub in project["db_commands"], (argv, project["db_commands"])
    assert (ROOT / "migrations").is_dir()
    for name, service in app_services(services).items():
        if name != "migrate":
            assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name


def test_nginx_sends_requests_to_the_web_service_on_gunicorns_port(services: dict[str, dict[str, Any]]) -> None:
    conf = (DEPLOY / "nginx.conf").read_text()
    upstreams = dict(re.findall(r"upstream\s+(\w+)\s*\{([^}]*)\}", conf))
    targets = re.findall(r"proxy_pass\s+http://(\w+)\s*;", conf)
    assert targets and all(t in upstreams for t in targets), "proxy_pass names an upstream block"
    for target in targets:
        servers = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", upstreams[target], re.MULTILINE)
        assert servers == [("web", "8000")], servers
    assert "8000" in [str(p) for p in services["web"].get("expose", [])]
    # gunicorn binds PORT, 8000 unless set; compose does not move it.
    assert "bind = f\"0.0.0.0:{os.environ.get('PORT', '8000')}\"" in (ROOT / "gunicorn.conf.py").read_text()
    assert "PORT" not in services["web"].get("environment", {})
    mounted = [v for v in services["nginx"]["volumes"] if v.startswith("./nginx.conf:")]
    assert mounted, "nginx runs this nginx.conf"


def test_every_variable_compose_needs_is_in_the_env_example(compose: dict[str, Any]) -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    needed = {m for m, default in re.findall(r"\$\{(\w+)(:?-[^}]*)?\}", text) if not default.startswith(":-")}
    needed |= set(re.findall(r"\$\{(\w+):\?", text))
    example = {
        line.split("=", 1)[0]
        for line in (DEPLOY / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert needed <= example, needed - example
    for secret in ("SECRET_KEY", "PII_ENCRYPTION_KEY", "WECHAT_MINIAPP_ID", "WECHAT_MINIAPP_SECRET"):
        assert secret in example, f"production refuses to start without {secret}"
    assert compose["x-app"]["environment"]["LINLI_ENV"] == "production"


def test_worker_queues_are_the_queues_the_project_routes_to(
    services: dict[str, dict[str, Any]], project: dict[str, Any]
) -> None:
    consumed: dict[str, str] = {}
    for name, service in app_services(services).items():
        argv = command_of(service)
        if argv[:4] != ["celery", "-A", "workers", "worker"]:
            continue
        queues = option(argv, "-Q", "--queues")
        assert queues, f"{name}: a worker per queue names its queues"
        for queue in queues.split(","):
            assert queue not in consumed, f"{queue} is taken by {consumed[queue]} and {name}"
            consumed[queue] = name
    routed = set(project["queues"]) | set(project["route_queues"]) | set(project["jobs_table"])
    if not routed:
        pytest.skip(
            "the project has no queue routes table yet (celery task_queues/task_routes, or a queues table in "
            f"api/jobs.py): every task goes to the default queue {project['default_queue']!r}, so the compose "
            "queues cannot be checked against it"
        )
    routed.add(project["default_queue"])
    assert set(consumed) <= routed, f"compose consumes queues the project never routes to: {set(consumed) - routed}"
    assert routed <= set(consumed), f"queues the project routes to that no worker takes: {routed - set(consumed)}"
    alerts = [n for n, s in app_services(services).items() if option(command_of(s), "-Q", "--queues") == "alerts"]
    assert alerts, "alarms have a worker of their own"
    argv = command_of(services[alerts[0]])
    assert option(argv, "--prefetch-multiplier") == "1", "a lost alarm worker holds at most the alarm it was sending"


def test_the_deploy_folder_is_documented(compose: dict[str, Any]) -> None:
    readme = (ROOT / "README.md").read_text()
    assert "deploy/compose.yaml" in readme
    assert (DEPLOY / ".env.example").exists()
    assert "deploy/.env" in (ROOT / ".gitignore").read_text().split(), "the filled-in secrets are never committed"


@pytest.mark.parametrize("entry", ["import wsgi", "import workers; workers.app"])
def test_a_worker_process_keeps_what_it_built_at_startup_out_of_the_garbage_collectors_walks(entry, tmp_path):
    # A full collection otherwise walks the ~500,000 objects of the built app (0.3 s, twice per alarm storm batch).
    code = f"import gc; {entry}; print(gc.get_freeze_count())"
    env = {"LINLI_INSTANCE_PATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=project_root(), env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.split()[-1]) > 100_000
