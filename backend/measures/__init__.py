"""Validated questionnaires (PHQ-9, GAD-7, and clinic-added ones) as data, with scoring."""
