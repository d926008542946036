"""The parts of `make prod-check` (ops/prod_check.py) that decide WHAT runs: read from
docker-compose.yml, the Dockerfile and .env.example, translated for this machine as documented.
The run itself is `make prod-check` (in CI); these keep its reading honest, in milliseconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops import prod_check


def test_it_runs_the_compose_services_own_commands_in_order():
    compose = prod_check.load_compose()
    one_shot, long_running = prod_check.app_service_names(compose)
    assert one_shot == ["migrate"]
    assert long_running == ["web", "worker", "dispatcher", "beat"]


def test_container_facts_are_translated_and_nothing_else():
    compose = prod_check.load_compose()
    run_dir = Path("/srv/prodcheck-run")  # only a string here: nothing is written
    where = prod_check.Relocation(port=45678, run_dir=run_dir)
    web = where.argv(compose["services"]["web"]["command"])
    original = compose["services"]["web"]["command"]
    assert web[web.index("--bind") + 1] == "127.0.0.1:45678"
    assert [a for a in web if "45678" not in a] == [a for a in original if "8000" not in a]
    beat = where.argv(compose["services"]["beat"]["command"])
    assert beat[beat.index("--pidfile") + 1] == f"{run_dir}/celerybeat.pid"
    check = where.healthcheck(compose["services"]["beat"]["healthcheck"]["test"])
    assert check[:2] == ["sh", "-c"]
    assert "$(cat " in check[2] and "$$" not in check[2] and "/tmp/" not in check[2]
    web_check = where.healthcheck(compose["services"]["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:45678/health/" in web_check[2]
    assert "${ALLOWED_HOSTS%%,*}" in web_check[2]


def test_the_dockerfile_build_step_runs_as_the_shell_would():
    (step,) = prod_check.dockerfile_manage_steps()
    env, argv = prod_check.split_env_prefix(step)
    assert env == {"DEBUG": "true"}
    assert argv[:3] == ["python", "manage.py", "collectstatic"]


def test_the_environment_is_env_example_with_local_values(tmp_path):
    env = prod_check.stack_env(
        database_url="postgres://postgres@127.0.0.1:5432/x",
        redis_url="redis://127.0.0.1:6379/11",
        smtp_port=2525,
        run_dir=tmp_path,
        monitoring_token="t" * 40,
    )
    example = prod_check.example_env()
    assert set(example) <= set(env)
    assert env["DEBUG"] == "false"
    assert env["SECRET_KEY"] != example["SECRET_KEY"] and len(env["SECRET_KEY"]) >= 50
    assert env["EMAIL_BACKEND"] == example["EMAIL_BACKEND"]  # production's, from the example
    assert env["HTTPS_PROXY"].startswith("http://127.0.0.1:")
    # Nothing of the caller's environment leaks in (a DATABASE_URL, a settings module).
    assert "DJANGO_SETTINGS_MODULE" not in env


def test_a_variable_missing_from_env_example_fails_the_run(tmp_path, monkeypatch):
    lines = [
        line
        for line in (prod_check.ROOT / ".env.example").read_text().splitlines()
        if not line.startswith("MONITORING_TOKEN=")
    ]
    trimmed = tmp_path / "root"
    trimmed.mkdir()
    (trimmed / ".env.example").write_text("\n".join(lines))
    monkeypatch.setattr(prod_check, "ROOT", trimmed)
    with pytest.raises(prod_check.StackError, match="MONITORING_TOKEN"):
        prod_check.stack_env(
            database_url="postgres://x/y",
            redis_url="redis://127.0.0.1:6379/11",
            smtp_port=2525,
            run_dir=Path(tmp_path),
            monitoring_token="t",
        )


def test_an_error_in_any_process_log_fails_the_logs_check(tmp_path):
    def stack_with(line: str) -> prod_check.Stack:
        stack = prod_check.Stack(env={}, run_dir=tmp_path)
        log = tmp_path / "worker.log"
        log.write_text(
            '{"level": "INFO", "name": "celery", "message": "ready"}\n'
            + line
            + "\n - ** ---------- [config]\n"
        )
        stack.processes.append(prod_check.Process("worker", [], popen=None, log=log))
        return stack

    assert "nothing at ERROR" in prod_check.check_no_errors_logged(stack_with(""))
    for bad in (
        '{"level": "ERROR", "name": "backend.reminders", "message": "send failed"}',
        '{"level": "INFO", "name": "gunicorn.access", "status": "500", "path": "/api/v1/plans/"}',
        "Traceback (most recent call last):",
    ):
        with pytest.raises(prod_check.CheckFailed, match="1 error lines"):
            prod_check.check_no_errors_logged(stack_with(bad))
