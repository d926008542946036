"""Helpers for bench/faults.py that run inside the project's own processes (seeding, provider
stand-ins). Imported as `faults_support` with bench/ on PYTHONPATH, so the same helpers work
against the working tree or a snapshot of another commit (--code)."""
