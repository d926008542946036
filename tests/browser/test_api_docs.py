"""The API docs render with no network beyond the service: Swagger UI and ReDoc come from the
project's own static files (drf-spectacular-sidecar), never a CDN. Every request Chromium makes
to any other host is aborted and recorded, as a strict clinic firewall (or this machine) would."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import TIMEOUT_MS


def _offline(page, live_server) -> tuple[list[str], list[str]]:
    """Abort every request to a host other than the live server; returns (blocked URLs, URLs
    served by the live server)."""
    ours = urlsplit(live_server.url).netloc
    blocked, served = [], []

    def route(r):
        url = r.request.url
        if urlsplit(url).netloc == ours:
            served.append(url)
            r.continue_()
        else:
            blocked.append(url)
            r.abort()

    page.route("**/*", route)
    return blocked, served


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_swagger_ui_renders_the_operations_from_the_services_own_files(
    page, live_server, screenshot
):
    blocked, served = _offline(page, live_server)
    failed = []
    page.on("requestfailed", lambda request: failed.append(request.url))

    page.goto("/api/v1/docs/")
    # Swagger UI has fetched the schema and drawn an operation block for the plans list.
    operation = page.locator('.opblock-summary-path[data-path="/api/v1/plans/"]').first
    operation.wait_for(state="visible", timeout=TIMEOUT_MS)
    assert page.locator(".opblock").count() > 20
    assert "Aftercare API" in page.locator(".information-container .title").inner_text()
    screenshot("api-docs-swagger")

    operation.click()  # opens: its parameters and responses are drawn from the schema too
    page.locator(".opblock.is-open .responses-wrapper").first.wait_for(state="visible")
    assert blocked == [] and failed == []
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/" in url for url in served)
    assert any(urlsplit(url).path == "/api/v1/schema/" for url in served)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_redoc_renders_from_the_services_own_files(page, live_server, screenshot):
    blocked, served = _offline(page, live_server)
    failed = []
    page.on("requestfailed", lambda request: failed.append((request.url, request.failure)))

    page.goto("/api/v1/redoc/")
    heading = page.locator("h1", has_text="Aftercare API").first
    heading.wait_for(state="visible", timeout=TIMEOUT_MS)
    # The side menu lists the operations, the plans list among them.
    page.locator(".menu-content").get_by_text("plans", exact=False).first.wait_for()
    assert page.get_by_text("/api/v1/plans/").count() > 0
    screenshot("api-docs-redoc")
    assert blocked == []  # nothing was even attempted beyond the server...
    # ...except ReDoc's built-in Redocly logo, which the page's own policy stops inside the
    # browser before any request is made (templates/api/redoc.html).
    assert [why for _, why in failed] in ([], ["csp"]), failed
    assert any("/static/drf_spectacular_sidecar/redoc/" in url for url in served)
