"""The suite's clock: a fixed instant for every test, shared with the processes tests start."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

from django.utils import timezone

from tests.conftest import ROOT
from tests.support.clock import SUITE_NOW, clocked_env


def test_every_test_starts_at_the_suites_instant_whatever_the_machine_says():
    assert dt.timedelta(0) <= timezone.now() - SUITE_NOW < dt.timedelta(minutes=5)


def test_a_test_can_stand_on_the_day_it_is_about(clock):
    eve_of_dst = dt.datetime(2026, 3, 8, 6, 30, tzinfo=dt.UTC)  # 01:30 EST, 30 min before the gap
    clock.move_to(eve_of_dst)
    assert dt.timedelta(0) <= timezone.now() - eve_of_dst < dt.timedelta(seconds=5)


def test_a_clocked_child_process_runs_level_with_the_test():
    child = subprocess.run(
        [sys.executable, "-m", "tests.support.clocked", "tests.support.now"],
        env={**os.environ, **clocked_env(), "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    seen = dt.datetime.fromisoformat(child.stdout.strip())
    assert abs(seen - timezone.now()) < dt.timedelta(seconds=30)
