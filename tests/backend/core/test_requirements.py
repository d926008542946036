"""The production image installs requirements.lock alone: it pins everything the service's own
dependencies (requirements.in) pull in, and no test or development tool; requirements-dev.lock
includes it and adds the tools, pinning nothing twice."""

from __future__ import annotations

from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

TOOLS = {"pytest", "playwright", "schemathesis", "ruff", "honcho", "hypothesis", "factory-boy"}


def _pins(name: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / name).read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            package, version = line.split("==")
            pins[canonicalize_name(package)] = version.strip()
    return pins


def _direct(name: str) -> list[Requirement]:
    lines = [line.split("#")[0].strip() for line in (ROOT / name).read_text().splitlines()]
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def _closure(roots: list[Requirement]) -> set[str]:
    """Every distribution the roots need on this interpreter, as installed here."""
    seen: dict[str, set[str]] = {}
    todo = [(r.name, set(r.extras)) for r in roots]
    while todo:
        name, extras = todo.pop()
        key = canonicalize_name(name)
        if key in seen and extras <= seen[key]:
            continue
        seen[key] = seen.get(key, set()) | extras
        for text in metadata.requires(name) or []:
            req = Requirement(text)
            wanted = seen[key] or {""}
            if req.marker and not any(req.marker.evaluate({"extra": x}) for x in wanted):
                continue
            todo.append((req.name, set(req.extras)))
    return set(seen)


def test_the_production_lock_is_the_closure_of_requirements_in_and_holds_no_tool():
    prod = _pins("requirements.lock")
    assert set(prod) == _closure(_direct("requirements.in"))
    assert not TOOLS & set(prod)


def test_the_development_lock_adds_the_tools_to_the_production_lock_without_repinning():
    dev_text = (ROOT / "requirements-dev.lock").read_text()
    assert dev_text.splitlines()[0] == "-r requirements.lock"
    prod, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    assert not set(prod) & set(dev)
    assert set(dev) >= TOOLS
    assert _closure(_direct("requirements-dev.in")) <= set(prod) | set(dev)


def test_this_environment_runs_the_locked_versions():
    pins = {**_pins("requirements.lock"), **_pins("requirements-dev.lock")}
    installed = {name: metadata.version(name) for name in pins}
    assert installed == pins
