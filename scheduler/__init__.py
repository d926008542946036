"""Aftercare's planning engine: a protocol plus constraints in, a dated plan with reminders out.

Pure Python (stdlib, ``holidays``, ``PyYAML``): no Django, no database, no clock reads -- the caller
passes ``now``. All the product's time arithmetic (DST, quiet hours, working days, SMS budgets)
lives here so it can be tested exhaustively and benchmarked alone. See ``timeutil`` for the DST
rule and ``offsets`` for the reminder-rule language.
"""

from __future__ import annotations

from .budget import sms_counting_from, sms_limits, sms_refusal
from .calendar import ClinicCalendar
from .errors import PlanningError
from .model import (
    APPOINTMENT_KINDS,
    ITEM_KINDS,
    MESSAGE_KINDS,
    SESSION_KINDS,
    Plan,
    PlanChange,
    PlannedItem,
    PlannedReminder,
    PlanNote,
)
from .offsets import parse_offset
from .planner import build_plan, effective_rules, replan
from .preferences import PatientPreferences, PlanOptions
from .priorities import MESSAGE_PRIORITY
from .protocol import ItemSpec, MissedSession, PrepParam, Protocol, ReminderRule, load_library
from .protocol_parse import protocol_from_dict
from .titles import patient_title

__all__ = [
    "APPOINTMENT_KINDS",
    "ITEM_KINDS",
    "MESSAGE_KINDS",
    "MESSAGE_PRIORITY",
    "SESSION_KINDS",
    "ClinicCalendar",
    "ItemSpec",
    "MissedSession",
    "PatientPreferences",
    "Plan",
    "PlanChange",
    "PlanNote",
    "PlanOptions",
    "PlannedItem",
    "PlannedReminder",
    "PlanningError",
    "PrepParam",
    "Protocol",
    "ReminderRule",
    "build_plan",
    "effective_rules",
    "load_library",
    "parse_offset",
    "patient_title",
    "protocol_from_dict",
    "replan",
    "sms_counting_from",
    "sms_limits",
    "sms_refusal",
]
