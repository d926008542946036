"""Locust users for bench/load.py: coordinators on the API, providers on their dashboard.

The stack runs with production settings behind what would be a TLS-terminating proxy
(NUM_PROXIES=1): every request carries the proxy's X-Forwarded-Proto: https and an
X-Forwarded-For address of its own per simulated user, as the proxy would add them. The loopback
hop is the proxy's, so the client sends the session's Secure cookies over it as the browser
would over HTTPS (an explicit Cookie header: requests' cookie jar keeps Secure cookies off plain
HTTP); nothing in the application's security settings is turned off.

Reads LOAD_SEED (the JSON bench/load_support/seed.py wrote). Every user also fetches a small
static file now and then (WhiteNoise, the cheapest thing the stack serves): the baseline the
bench divides by, measured under the same users in the same run.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from pathlib import Path

from locust import HttpUser, between, task

SEED = json.loads(Path(os.environ["LOAD_SEED"]).read_text())
BASELINE_PATH = os.environ.get("LOAD_BASELINE_PATH", "/static/admin/img/icon-yes.svg")
_addresses = itertools.count(1)


class ClinicUser(HttpUser):
    abstract = True
    wait_time = between(0.5, 1.5)  # a person clicking, not a script hammering

    def on_start(self) -> None:
        n = next(_addresses)
        self.client.headers.update(
            {
                "X-Forwarded-Proto": "https",
                "X-Forwarded-For": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}",
            }
        )

    def carry_cookies(self) -> None:
        """Send every cookie the server set, Secure ones included, on the next requests."""
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.client.cookies)
        self.client.headers["Cookie"] = cookies

    @task(1)
    def baseline(self) -> None:
        self.client.get(BASELINE_PATH, name="baseline: static file")


class Coordinator(ClinicUser):
    """A coordinator's integration on the API, with the clinic's API token."""

    weight = 3

    def on_start(self) -> None:
        super().on_start()
        token = random.choice(SEED["coordinator_tokens"])
        self.client.headers["Authorization"] = f"Token {token}"

    @task(4)
    def plan_list(self) -> None:
        self.client.get("/api/v1/plans/?status=active", name="api: plan list")

    @task(4)
    def plan_detail(self) -> None:
        plan = random.choice(SEED["plan_ids"])
        self.client.get(f"/api/v1/plans/{plan}/", name="api: plan detail")

    @task(3)
    def patient_search(self) -> None:
        name = random.choice(SEED["name_fragments"])
        self.client.get(f"/api/v1/patients/?name={name}", name="api: patient search")

    @task(3)
    def items(self) -> None:
        plan = random.choice(SEED["plan_ids"])
        self.client.get(f"/api/v1/items/?plan={plan}", name="api: plan items")


class Provider(ClinicUser):
    """A provider signed in through the login form, on the dashboard."""

    weight = 1

    def on_start(self) -> None:
        super().on_start()
        page = self.client.get("/admin/login/?next=/provider/", name="login form")
        self.carry_cookies()
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        origin = f"https://{self.host.split('://', 1)[1].rstrip('/')}"
        done = self.client.post(
            "/admin/login/?next=/provider/",
            data={
                "csrfmiddlewaretoken": found.group(1) if found else "",
                "username": SEED["provider_username"],
                "password": SEED["provider_password"],
                "next": "/provider/",
            },
            headers={"Origin": origin, "Referer": f"{origin}/admin/login/"},
            name="login",
            allow_redirects=False,
        )
        if done.status_code != 302:
            raise RuntimeError(f"provider login answered {done.status_code}")
        self.carry_cookies()  # the session, and the csrf token login rotated

    @task(6)
    def dashboard(self) -> None:
        self.client.get("/provider/", name="provider dashboard")
