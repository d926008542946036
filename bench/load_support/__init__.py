"""Helpers for bench/load.py and bench/locustfile.py: seeding the clinic the load runs against."""
