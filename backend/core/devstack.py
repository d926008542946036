"""`make run`: the whole service on one machine — Redis (if needed), migrations, demo data, then
web, Celery worker and Celery beat under honcho. Ctrl-C stops them all, Redis last.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from backend.core.embedded_redis import EmbeddedRedis

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, env=env, cwd=ROOT)


def main() -> int:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("AFTERCARE_DEMO", "1")
    env.setdefault("DEBUG", "true")  # local development only; the settings default to off
    env.setdefault("PYTHONUNBUFFERED", "1")
    redis = None
    if not env.get("REDIS_URL"):
        redis = EmbeddedRedis(ROOT / "var" / "redis")
        env["REDIS_URL"] = redis.start()
    try:
        _manage("migrate", "--noinput", env=env)
        _manage("seed_demo", env=env)
        port = env.get("WEB_PORT", "8000")
        print(
            f"\nAftercare is starting on http://127.0.0.1:{port}/\n"
            f"  admin (coordinators):  http://127.0.0.1:{port}/admin/\n"
            f"  provider dashboard:    http://127.0.0.1:{port}/provider/\n"
            f"  API docs:              http://127.0.0.1:{port}/api/v1/docs/\n"
            f"  health:                http://127.0.0.1:{port}/health/\n"
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
