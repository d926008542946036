"""axe-core accessibility scans of the page a Playwright test has open.

axe-core's own ``axe.min.js`` (MPL-2.0, by Deque Systems) comes from the PyPI package
``axe-playwright-python``, which ships it as package data: ``pip install -r requirements-dev.lock``
brings it, with nothing downloaded at test time. Only that file is used; injection and the run
options are ours, so the rules checked are exactly the WCAG 2.0/2.1 A and AA ones.
"""

from __future__ import annotations

import functools
from importlib import resources

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = frozenset({"serious", "critical"})

_RUN = """async (tags) => {
    const results = await axe.run(document, {
        runOnly: {type: 'tag', values: tags},
        resultTypes: ['violations', 'incomplete'],
    });
    const brief = v => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        helpUrl: v.helpUrl,
        nodes: v.nodes.map(n => ({
            impact: n.impact,
            target: n.target,
            html: n.html,
            summary: n.failureSummary,
        })),
    });
    return {
        version: axe.version,
        violations: results.violations.map(brief),
        incomplete: results.incomplete.map(brief),
    };
}"""


@functools.cache
def axe_source() -> str:
    return resources.files("axe_playwright_python").joinpath("axe.min.js").read_text()


def scan(page) -> dict:
    """axe-core's WCAG 2.0/2.1 A+AA results on ``page``: {"version", "violations", "incomplete"}.

    "incomplete" is what axe could not decide by itself (say, text over a background image) and
    leaves to a person: recorded for review, never a failure.
    """
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_source())
    return page.evaluate(_RUN, WCAG_TAGS)


def blocking(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in BLOCKING]


def describe(violations: list[dict], *, limit: int = 5) -> str:
    """One block per rule: id, impact, help and the offending elements (selector and HTML)."""
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} [{v['impact']}] {v['help']} ({len(v['nodes'])} element(s))")
        for node in v["nodes"][:limit]:
            target = " ".join(str(t) for t in node["target"])
            lines.append(f"    {target}: {node['html'][:300]}")
        if len(v["nodes"]) > limit:
            lines.append(f"    ... and {len(v['nodes']) - limit} more")
    return "\n".join(lines) or "  (none)"
