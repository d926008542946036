"""A patient's questionnaire scores over time as an SVG chart (pygal, rendered on the server:
no script runs in the clinician's browser, and the page prints as it shows)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pygal
from pygal.style import Style

from backend.measures import scoring

STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#1d2731",
    foreground_strong="#1d2731",
    foreground_subtle="#5b6875",
    colors=("#2a6f97", "#b5651d", "#2d7a46", "#8a1c12"),
    font_family="system-ui, sans-serif",
)


def scores_chart(responses, *, zone: str) -> str:
    """One line per questionnaire, oldest first; the y axis runs to the largest maximum."""
    by_instrument: dict[str, list] = {}
    for response in sorted(responses, key=lambda r: r.submitted_at):
        by_instrument.setdefault(response.instrument, []).append(response)
    if not by_instrument:
        return ""
    top = max(scoring.get(code).max_total for code in by_instrument)
    chart = pygal.DateTimeLine(
        style=STYLE,
        width=720,
        height=320,
        range=(0, top),
        show_dots=True,
        dots_size=4,
        x_label_rotation=0,
        disable_xml_declaration=True,
        explicit_size=False,
        legend_at_bottom=True,
        truncate_legend=-1,
        x_value_formatter=lambda when: when.strftime("%d %b"),
        title="Questionnaire scores",
        js=(),  # pygal links tooltip scripts from the internet by default; none are loaded here
    )
    local = ZoneInfo(zone)
    for code, rows in by_instrument.items():
        name = scoring.get(code).name
        chart.add(
            name,
            [
                {
                    "value": (r.submitted_at.astimezone(local).replace(tzinfo=None), r.total),
                    "label": f"{r.total} ({r.band_label})",
                }
                for r in rows
            ],
        )
    return chart.render(is_unicode=True)
