"""No Docker engine runs here, so the compose file is validated by `docker compose config`
when the client can, and always by parsing it."""

import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT

APP_SERVICES = {"web", "worker", "dispatcher", "beat"}


def _docker_compose_config() -> dict | None:
    """The file as `docker compose config` resolves it, or None when the client cannot run it."""
    docker = shutil.which("docker")
    if docker is None:
        return None
    if subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        return None
    result = subprocess.run(
        [
            docker,
            "compose",
            "-f",
            str(ROOT / "docker-compose.yml"),
            "--env-file",
            str(ROOT / ".env.example"),
            "config",
            "--format",
            "json",
            "--no-interpolate",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"docker compose config rejected the file: {result.stderr}"
    return None  # resolved form differs (env_file becomes a list); the parse below is canonical


@pytest.fixture(scope="module")
def compose() -> dict:
    _docker_compose_config()
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_images_and_builds(compose):
    services = compose["services"]
    assert {"postgres", "redis", *APP_SERVICES} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    for name in APP_SERVICES:
        assert services[name]["build"] == "."
    assert (ROOT / "Dockerfile").exists()


@pytest.mark.parametrize("name", ["postgres", "redis", "web", "worker", "dispatcher", "beat"])
def test_every_long_running_service_has_healthcheck_and_restart(compose, name):
    service = compose["services"][name]
    assert service["restart"] in {"always", "unless-stopped"}
    assert service["healthcheck"]["test"], name


def test_app_services_take_configuration_from_the_env_file(compose):
    example = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG"} <= example
    for name in APP_SERVICES:
        service = compose["services"][name]
        assert service["env_file"] == ".env"
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "gunicorn" in compose["services"]["web"]["command"]
    assert "DatabaseScheduler" in " ".join(compose["services"]["beat"]["command"])
    # Claiming and sending never share a process.
    assert "dispatch" in compose["services"]["dispatcher"]["command"]
    assert "send" in compose["services"]["worker"]["command"]
