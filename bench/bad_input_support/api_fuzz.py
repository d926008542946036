"""schemathesis against every operation of the API's own OpenAPI schema, through the WSGI app
(the whole Django stack: middleware, authentication, throttles, views, PostgreSQL), signed in
with a real token per role, many more examples per operation than the suite's fixed sample
(tests/backend/api/test_schemathesis.py).

A response >= 500 is a server error: kept with the request (as a curl command) and the
traceback Django logged for it. Conformance to the schema (status codes, content types,
bodies) is checked too and counted apart: a mismatch is a documentation bug, not a crash.
"""

from __future__ import annotations

import time
import traceback

import schemathesis
from django.conf import settings
from django.core.signals import got_request_exception
from django.test.utils import override_settings
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from schemathesis.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bench.bad_input_support.tally import Source, seeded

SCHEMA_PATH = "/api/v1/schema/?format=json"
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]


def _unthrottled() -> dict:
    """Every throttle scope raised far above what the generator sends: a 429 tests nothing."""
    rest = dict(settings.REST_FRAMEWORK)
    rates = dict(rest.get("DEFAULT_THROTTLE_RATES") or {})
    rest["DEFAULT_THROTTLE_RATES"] = {scope: "1000000/min" for scope in rates}
    return rest


def run(tokens: dict[str, str | None], examples: int, seed: int | None) -> Source:
    """`tokens`: role -> API token (None: anonymous). Every operation, every role."""
    from backend.wsgi import application

    source = Source("schemathesis")
    started = time.monotonic()
    crashes: list[str] = []

    def on_exception(sender, request=None, **kwargs):
        crashes.append(traceback.format_exc())

    got_request_exception.connect(on_exception, weak=False)
    schema = schemathesis.openapi.from_wsgi(SCHEMA_PATH, application)
    operations = []
    for result in schema.get_all_operations():
        try:
            operations.append(result.ok())
        except Exception as exc:  # an operation schemathesis cannot read is a finding too
            source.counts["operations unreadable"] += 1
            source.findings.append(f"[schema] {exc!r}")
    source.counts["operations"] = len(operations)
    with override_settings(REST_FRAMEWORK=_unthrottled()):
        for role, token in tokens.items():
            headers = {"Authorization": f"Token {token}"} if token else {}
            for operation in operations:
                ids = _real_ids(operation.path, headers)
                _fuzz(source, operation, role, headers, examples, seed, crashes, ids)
    got_request_exception.disconnect(on_exception)
    # How far the generator got: operation-role pairs that were answered 2xx at least once.
    source.counts["operation-role pairs answered 2xx"] = sum(
        1 for key in source.counts if key.startswith("2xx ")
    )
    source.seconds = time.monotonic() - started
    return source


def _real_ids(path: str, headers: dict) -> list:
    """Ids this role can see at the operation's list endpoint (`/plans/{id}/pause/` ->
    `/plans/`): every other case of a detail operation names one of them instead of the random
    integer schemathesis draws, which is almost always a 404 that tests nothing behind it."""
    from django.test import Client

    if "{id}" not in path:
        return []
    listing = path.split("{id}")[0]
    response = Client().get(listing, headers=headers)
    if response.status_code != 200:
        return []
    body = response.json()
    rows = body.get("results", []) if isinstance(body, dict) else body
    return [row["id"] for row in rows if isinstance(row, dict) and "id" in row]


def _fuzz(source, operation, role, headers, examples, seed, crashes, real_ids) -> None:
    label = f"{operation.method.upper()} {operation.path} as {role}"

    @hsettings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: each case is counted as tried
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def probe(case):
        source.cases += 1
        source.counts[f"cases as {role}"] += 1
        if real_ids and source.cases % 2 and "id" in (case.path_parameters or {}):
            case.path_parameters["id"] = real_ids[source.cases // 2 % len(real_ids)]
            source.counts["cases naming a real object"] += 1
        crashes.clear()
        response = case.call(headers=headers)
        status = response.status_code
        source.counts[f"{status // 100}xx"] += 1
        if 200 <= status < 300:
            source.counts[f"2xx {label}"] += 1
        if status >= 500:
            tb = crashes[-1] if crashes else "(no traceback logged)"
            source.error(label, f"{status}\n  {case.as_curl_command(headers=headers)}\n{tb}")
            return
        try:
            case.validate_response(response, checks=CONFORMANCE)
        except Exception as failure:
            source.counts["schema conformance failures"] += 1
            first = str(failure).strip().splitlines()[:3]
            key = f"conformance {label}"
            if source.counts[key] == 0:
                source.findings.append(f"[conformance] {label}: {' / '.join(first)}")
            source.counts[key] += 1

    try:
        seeded(probe, seed)()
    except Exception as exc:  # generation gave up (unsatisfiable schema), not a server error
        source.counts["operations hypothesis gave up on"] += 1
        source.findings.append(f"[generation] {label}: {type(exc).__name__}: {exc}"[:300])
