"""The API docs pages load Swagger UI and ReDoc from this service's own static files
(drf-spectacular-sidecar), and with DEBUG off, after collectstatic, WhiteNoise serves every one
of them: no CDN, no separate file server. (tests/browser/test_api_docs.py renders them.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from django.test import Client

from tests.conftest import ROOT


def _assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', html)


@pytest.mark.django_db
def test_docs_assets_are_ours_and_served_with_debug_off(tmp_path, settings):
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env={**os.environ, "STATIC_ROOT": str(tmp_path)},
        check=True,
        timeout=180,
    )
    settings.STATIC_ROOT = str(tmp_path)
    settings.DEBUG = False
    client = Client()
    seen = []
    for page in ("/api/v1/docs/", "/api/v1/redoc/"):
        response = client.get(page)
        assert response.status_code == 200
        html = response.content.decode()
        assets = _assets(html)
        assert assets, f"{page} loads no script"
        assert "cdn.jsdelivr.net" not in html and "@latest" not in html
        for url in assets:
            assert url.startswith("/static/drf_spectacular_sidecar/"), url
            asset = client.get(url)
            assert asset.status_code == 200, url
            assert b"".join(asset.streaming_content).strip()
            seen.append(url)
    assert any("swagger-ui-bundle.js" in u for u in seen)
    assert any("redoc.standalone.js" in u for u in seen)
