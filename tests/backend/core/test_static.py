"""With DEBUG off, gunicorn itself serves the admin's static files (WhiteNoise)."""

import subprocess
import sys

import pytest
from django.test import Client

from tests.conftest import ROOT


@pytest.mark.django_db
def test_collected_static_files_are_served_without_a_separate_server(tmp_path, settings):
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env={**__import__("os").environ, "STATIC_ROOT": str(tmp_path)},
        check=True,
        timeout=120,
    )
    settings.STATIC_ROOT = str(tmp_path)
    settings.DEBUG = False
    response = Client().get("/static/admin/css/base.css")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).strip()
