"""One priority order for every message kind: safety first, prompts last.

The SMS budget (``budget``) grants texts in this order when a patient's day or week is full, when
a plan is built or re-planned; the backend stores each row's priority from here too (change
notices and the missed-session message included). It is stated here once and is not a protocol
field: when priorities were per rule, a protocol that ranked questionnaire prompts (70) above the
day-after text (60) lost every day-after text of a six-session IV course under the TCPA budget
of three texts a week. The day after a dose carries the safety advice (no driving until after a
restful sleep, which symptoms need the emergency number), so it outranks everything; the
preparation texts follow (a patient who ate before a dose is sent home); what only invites the
patient to act (questionnaires, check-ins, journal) comes last, and staff messages, which no
patient budget counts, come after every patient message.

Values are spaced so a kind can be slotted in without renumbering; all stay below the backend's
safety alerts to staff (100), which no patient budget counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .model import MESSAGE_KINDS

__all__ = ["MESSAGE_PRIORITY", "PRIORITY_ORDER", "priority_of"]

# Highest first. Kinds on one line share a rank.
PRIORITY_ORDER: tuple[tuple[str, ...], ...] = (
    ("day_after",),
    ("preparation_2h",),
    ("preparation_evening",),
    ("session_missed", "session_changed", "session_cancelled"),
    ("preparation_48h",),
    ("what_to_expect",),
    ("integration_reminder", "preparation_session_reminder"),
    ("booster_reminder",),
    ("assessment_prompt",),
    ("check_in_invitation",),
    ("journal_prompt",),
    ("provider_readiness_missing", "provider_task_due", "provider_checkins_tomorrow"),
)

MESSAGE_PRIORITY: Mapping[str, int] = MappingProxyType(
    {kind: 90 - 5 * rank for rank, kinds in enumerate(PRIORITY_ORDER) for kind in kinds}
)

_missing = set(MESSAGE_KINDS) - set(MESSAGE_PRIORITY)
assert not _missing, f"message kinds without a priority: {sorted(_missing)}"


def priority_of(message_kind: str) -> int:
    """The fixed priority of ``message_kind`` (0 for a kind this engine does not plan)."""
    return MESSAGE_PRIORITY.get(message_kind, 0)
