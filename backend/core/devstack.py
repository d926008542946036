"""`make run`: the whole service on one machine — Redis (if needed), migrations, demo data, then
web, Celery worker and Celery beat under honcho. Ctrl-C stops them all, Redis last.

The web process listens on WEB_PORT (default 8000; the Procfile reads it), and every process is
given PUBLIC_BASE_URL, which links in emails and texts are built from: http://127.0.0.1:<WEB_PORT>
unless PUBLIC_BASE_URL is set already (a tunnel or a proxy in front wins). Without this, the
worker that renders messages would fall back to the settings' :8000 whatever port the web runs on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from backend.core.embedded_redis import EmbeddedRedis

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, env=env, cwd=ROOT)


def process_env(environ: dict[str, str]) -> dict[str, str]:
    """The environment web, worker and beat run with, from the one `make run` was given.

    Raises SystemExit naming WEB_PORT when it is not a port number."""
    env = dict(environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("AFTERCARE_DEMO", "1")
    env.setdefault("DEBUG", "true")  # local development only; the settings default to off
    env.setdefault("PYTHONUNBUFFERED", "1")
    port = env.get("WEB_PORT", "").strip() or "8000"
    if not (port.isdigit() and 1 <= int(port) <= 65535):
        raise SystemExit(f"WEB_PORT: must be a port number from 1 to 65535, not {port!r}.")
    env["WEB_PORT"] = port
    if not env.get("PUBLIC_BASE_URL", "").strip():
        env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    # /metrics sums every process's counters (send latency in the worker, receipts in the web)
    # from this shared directory: prometheus_client's multiprocess mode (backend.core.metrics).
    env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(ROOT / "var" / "metrics"))
    env.setdefault("MONITORING_TOKEN", "demo-monitoring-token")  # development only
    return env


def main() -> int:
    env = process_env(dict(os.environ))
    redis = None
    if not env.get("REDIS_URL"):
        redis = EmbeddedRedis(ROOT / "var" / "redis")
        env["REDIS_URL"] = redis.start()
    metrics_dir = Path(env["PROMETHEUS_MULTIPROC_DIR"])
    shutil.rmtree(metrics_dir, ignore_errors=True)  # a new run starts its counters at zero
    metrics_dir.mkdir(parents=True, exist_ok=True)
    try:
        _manage("migrate", "--noinput", env=env)
        _manage("seed_demo", env=env)
        port = env["WEB_PORT"]
        print(
            f"\nAftercare is starting on http://127.0.0.1:{port}/\n"
            f"  links in messages:     {env['PUBLIC_BASE_URL']}/...\n"
            f"  admin (coordinators):  http://127.0.0.1:{port}/admin/\n"
            f"  provider dashboard:    http://127.0.0.1:{port}/provider/\n"
            f"  API docs:              http://127.0.0.1:{port}/api/v1/docs/\n"
            f"  health:                http://127.0.0.1:{port}/health/\n"
            f"  metrics: curl -H 'Authorization: Bearer {env['MONITORING_TOKEN']}' "
            f"http://127.0.0.1:{port}/metrics\n"
            "  demo logins (password aftercare-demo): coordinator, provider, patient\n"
            f"  broker: {env['REDIS_URL']}\n"
            f"  outgoing email and SMS: {ROOT / 'var' / 'outbox'} and this log\n"
            "Ctrl-C stops web, worker and beat.\n",
            flush=True,
        )
        proc = subprocess.run(
            [str(BIN / "honcho"), "-f", str(ROOT / "Procfile"), "start"], env=env, cwd=ROOT
        )
        return proc.returncode
    except KeyboardInterrupt:
        return 0
    finally:
        if redis:
            redis.stop()


if __name__ == "__main__":
    sys.exit(main())
