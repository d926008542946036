"""Run a module on the test suite's clock: ``python -m tests.support.clocked celery -A backend …``.

The parent test passes its offset from the machine's clock (tests.support.clock.clocked_env); this
process travels to the same instant, ticking, before the module starts, so leases and send times
are judged on one clock in every process of a test. Forked children (Celery's prefork pool)
inherit it.
"""

from __future__ import annotations

import runpy
import sys
import time

import time_machine

from tests.support.clock import offset_from_env


def main() -> None:
    offset = offset_from_env()
    if offset is None:
        raise SystemExit("tests.support.clocked: AFTERCARE_TEST_CLOCK_OFFSET_S is not set")
    time_machine.travel(time.time() + offset, tick=True).start()
    module, *args = sys.argv[1:]
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
