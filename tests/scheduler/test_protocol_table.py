"""The README's protocol table is the generated one: every parameter, its value, its source."""

from __future__ import annotations

from pathlib import Path

from scheduler.protocol_table import CLINIC, protocol_table

from .helpers import library

README = Path(__file__).resolve().parents[2] / "README.md"
HEADING = "## Protocol parameters\n"


def readme_section() -> str:
    text = README.read_text(encoding="utf-8")
    assert HEADING in text, "README.md needs a '## Protocol parameters' section"
    body = text.split(HEADING, 1)[1]
    end = body.find("\n## ")
    return (body if end < 0 else body[: end + 1]).strip()


def test_readme_section_equals_the_generated_table():
    assert readme_section() == protocol_table().strip(), (
        "run: python -m scheduler.protocol_table, and paste it under '## Protocol parameters'"
    )


def test_every_parameter_names_a_listed_source_or_clinic_convention():
    table = protocol_table()
    for protocol in library().values():
        ids = {s.id for s in protocol.sources}
        section = table.split(f"(`{protocol.slug}`")[1].split("\n### ")[0]
        rows = [
            line for line in section.splitlines() if line.startswith("| ") and "---" not in line
        ]
        for row in rows[1:]:
            source = row.rstrip(" |").rsplit("| ", 1)[1].removesuffix(" (clinic may change)")
            assert source == CLINIC or source in ids, row
        for key in protocol.preparation:
            assert f"| preparation: {key} |" in section
        for rule in protocol.reminder_rules:
            assert f"| rule {rule.id} |" in section


def test_values_that_do_not_come_from_the_source_say_so():
    table = protocol_table()
    assert "| dosing: observation | 60 min | clinic convention |" in table  # IV and pain series
    assert "| dosing: count | 10 (a plan may choose 3-10) | schwartzman-2009 |" in table
    assert "| preparation: food_hours | 2: no food" in table
