"""docker-compose.yml, checked without a Docker engine: against the Compose Specification's own JSON
schema (vendored in ops/compose_spec/), for what production needs of it (restart policies, health
checks, the database volume, the env file, Flower behind a login), and for commands that the
programs they name would accept. `make prod-check` (ops/prod_check.py) then runs those commands.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import shlex

import click
import jsonschema
import pytest
import yaml
from celery.app.utils import find_app
from celery.bin.base import CLIContext
from celery.bin.celery import celery as celery_cli
from django.core.management import get_commands
from django.utils.module_loading import import_string

from tests.conftest import ROOT

SCHEMA = ROOT / "ops" / "compose_spec" / "compose-spec.json"
ONE_SHOT = {"migrate"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SCHEMA.read_text())


def app_services(compose: dict) -> dict[str, dict]:
    """The services built from this repository's Dockerfile (the x-app anchor)."""
    return {name: s for name, s in compose["services"].items() if s.get("build") == "."}


def example_keys() -> set[str]:
    return {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }


# --- The Compose Specification ------------------------------------------------------------------


def test_the_file_is_valid_against_the_compose_specification(compose, schema):
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


@pytest.mark.parametrize(
    "break_it",
    [
        lambda c: c["services"]["web"].update(comand=c["services"]["web"]["command"]),
        lambda c: c["services"]["worker"]["healthcheck"].update(intervall="30s"),
        lambda c: c["services"]["postgres"].update(volumes="pgdata:/var/lib/postgresql/data"),
        lambda c: c["services"]["flower"].update(depends_on={"redis": {"condition": "healthy"}}),
    ],
    ids=["misspelt key", "misspelt health check key", "volumes not a list", "unknown condition"],
)
def test_the_schema_refuses_a_broken_file(compose, schema, break_it):
    broken = json.loads(json.dumps(compose))
    break_it(broken)
    assert not jsonschema.Draft7Validator(schema).is_valid(broken)


def test_the_vendored_schema_is_the_one_its_readme_names():
    import hashlib

    readme = (SCHEMA.parent / "README.md").read_text()
    digest = hashlib.sha256(SCHEMA.read_bytes()).hexdigest()
    assert digest in readme
    assert (SCHEMA.parent / "LICENSE").read_text().lstrip().startswith("Apache License")


# --- What production needs of the file ----------------------------------------------------------


def test_services_images_and_builds(compose):
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "dispatcher", "beat", "flower"} <= set(
        services
    )
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert set(app_services(compose)) == {"migrate", "web", "worker", "dispatcher", "beat"}
    assert (ROOT / "Dockerfile").exists()


def test_every_service_but_migrate_restarts_and_has_a_health_check(compose):
    for name, service in compose["services"].items():
        if name in ONE_SHOT:
            assert service["restart"] == "no", name
            continue
        assert service["restart"] in {"always", "unless-stopped"}, name
        check = service["healthcheck"]
        assert not check.get("disable"), name
        assert check["test"][0] in {"CMD", "CMD-SHELL"} and len(check["test"]) > 1, name
        assert check["interval"] and check["timeout"] and check["retries"], name


def test_the_app_waits_for_migrations_and_healthy_dependencies(compose):
    for name, service in app_services(compose).items():
        depends = service["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
        if name not in ONE_SHOT:
            assert depends["migrate"]["condition"] == "service_completed_successfully", name


def test_postgres_keeps_its_data_in_a_named_volume(compose):
    assert "pgdata" in compose["volumes"]
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]


def test_app_services_and_postgres_take_configuration_from_the_env_file(compose):
    for name in [*app_services(compose), "postgres"]:
        assert compose["services"][name]["env_file"] == ".env", name


def test_flower_requires_a_login_taken_from_the_environment(compose):
    flower = compose["services"]["flower"]
    # Required interpolation: compose refuses to start Flower while FLOWER_BASIC_AUTH is unset or
    # empty, so it can never run open. The credentials are not in the file.
    assert re.fullmatch(r"\$\{FLOWER_BASIC_AUTH:\?.+\}", flower["environment"]["FLOWER_BASIC_AUTH"])
    assert re.fullmatch(r"\$\{REDIS_URL:\?.+\}", flower["environment"]["CELERY_BROKER_URL"])
    assert not any("basic" in part.lower() for part in flower["command"])
    assert flower["command"][:2] == ["celery", "flower"]
    # Published on the host's loopback only.
    assert all(port.startswith("127.0.0.1:") for port in flower["ports"])
    assert "/healthcheck" in " ".join(flower["healthcheck"]["test"])


def test_the_env_example_lists_every_variable_the_services_read(compose):
    text = (ROOT / "docker-compose.yml").read_text()
    interpolated = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", text))
    in_containers = set(re.findall(r"\$\$\{?([A-Z_][A-Z0-9_]*)", text)) - {"HOSTNAME"}
    required_by_settings = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"}
    postgres = {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"}
    assert interpolated and in_containers
    missing = (interpolated | in_containers | required_by_settings | postgres) - example_keys()
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_every_env_example_variable_is_read_by_someone(compose):
    readers = (ROOT / "backend" / "settings.py").read_text() + (
        ROOT / "docker-compose.yml"
    ).read_text()
    postgres_image = {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"}
    unread = {key for key in example_keys() - postgres_image if key not in readers}
    assert not unread, f".env.example names variables nothing reads: {sorted(unread)}"


def test_the_example_secrets_are_refused_or_empty():
    """Copied unchanged, .env.example must not start a service with a known secret."""
    from django.core.exceptions import ImproperlyConfigured

    from backend.core.checks import guard_production_settings

    values = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        guard_production_settings(
            debug=False,
            secret_key=values["SECRET_KEY"],
            dev_secret_key="",
            allowed_hosts=values["ALLOWED_HOSTS"].split(","),
        )
    assert values["MONITORING_TOKEN"] == "" and values["FLOWER_BASIC_AUTH"] == ""
    assert values["DEBUG"] == "false"


# --- The commands parse --------------------------------------------------------------------------


def parse_celery(args: list[str]) -> tuple[str, dict]:
    """Celery's own command line parser over a compose command: an unknown option, a bad value or
    an app that does not import fails here as it would when the container starts."""
    sub_at = next(i for i, arg in enumerate(args) if arg in celery_cli.commands)
    top = celery_cli.make_context("celery", args[:sub_at])
    app = find_app(top.params["app"])
    command = celery_cli.commands[args[sub_at]]
    obj = CLIContext(app=app, no_color=True, workdir=None, quiet=True)
    params = command.make_context(args[sub_at], args[sub_at + 1 :], parent=top, obj=obj).params
    return args[sub_at], {**params, "app": app}


def test_celery_commands_name_real_apps_queues_and_schedulers(compose):
    services = app_services(compose)
    commands = {name: s["command"] for name, s in services.items() if s["command"][0] == "celery"}
    assert set(commands) == {"worker", "dispatcher", "beat"}
    for name, command in commands.items():
        sub, params = parse_celery(command[1:])
        app = params["app"]
        assert app.main == "aftercare", name
        if sub == "worker":
            defined = {queue.name for queue in app.conf.task_queues}
            assert params["queues"] and set(params["queues"]) <= defined, name
        else:
            assert sub == "beat"
            import_string(params["scheduler"].replace(":", "."))
    assert parse_celery(commands["worker"][1:])[1]["queues"] == ["send"]
    assert parse_celery(commands["dispatcher"][1:])[1]["queues"] == ["dispatch"]


def test_a_misspelt_celery_option_is_caught():
    with pytest.raises(click.UsageError):
        parse_celery(["-A", "backend", "worker", "--queuez", "send"])


def test_celery_health_checks_parse(compose):
    for name in ("worker", "dispatcher"):
        line = compose["services"][name]["healthcheck"]["test"][1].replace("$$", "$")
        sub, params = parse_celery(shlex.split(line)[1:])
        assert (sub, params["command"]) == ("inspect", "ping"), name
    node = compose["services"]["dispatcher"]["command"]
    assert node[node.index("--hostname") + 1].startswith("dispatcher@")
    assert "-d dispatcher@$$HOSTNAME" in compose["services"]["dispatcher"]["healthcheck"]["test"][1]


def test_gunicorn_command_parses_and_names_real_objects(compose):
    from gunicorn.config import Config

    command = compose["services"]["web"]["command"]
    assert command[0] == "gunicorn"
    parsed = Config().parser().parse_args(command[1:])
    module, _, attribute = parsed.args[0].partition(":")
    assert hasattr(importlib.import_module(module), attribute)
    import_string(parsed.logger_class)
    assert parsed.bind == ["0.0.0.0:8000"]
    assert int(parsed.workers) >= 2
    # The image's default command is the web service's.
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"CMD {json.dumps(command)}" in dockerfile


def test_migrate_command_is_a_django_command_with_real_settings(compose):
    command = compose["services"]["migrate"]["command"]
    assert command[:2] == ["python", "manage.py"] and (ROOT / "manage.py").exists()
    assert command[2] in get_commands()
    # The processes name no settings module: manage.py and backend/celery.py default to this one.
    assert importlib.util.find_spec("backend.settings") is not None
    for path in ("manage.py", "backend/celery.py", "backend/wsgi.py"):
        assert '"DJANGO_SETTINGS_MODULE", "backend.settings"' in (ROOT / path).read_text(), path
