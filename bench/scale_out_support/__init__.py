"""Helpers for bench/scale_out.py: a private PgBouncer in transaction pooling mode and the
counters the bench samples from it and from PostgreSQL."""
