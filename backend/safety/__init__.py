"""Urgent and worsening flags, their escalation, and the clinic inbox of patient messages."""
