"""The role groups as the data migrations build them, made again after a transactional test
flushed them (permissions survive a flush: post_migrate re-creates them; groups do not).

Every migration that grants a role permissions is listed here once, so a new grant reaches
transactional tests and the browser's demo data alike.
"""

from __future__ import annotations

import importlib

from django.apps import apps as django_apps

SAFETY_GROUPS = "backend.core.migrations.0004_safety_groups"
# Migrations that add to the groups (each exposes ``grant(apps)``), in migration order.
ADDED_GRANTS = ("backend.plans.migrations.0006_session_request_permissions",)


def restore(apps=django_apps) -> None:
    groups = importlib.import_module(SAFETY_GROUPS)
    groups.groups._grant(apps, "Coordinators", groups.COORDINATOR_PERMS)
    groups.groups._grant(apps, "Providers", groups.PROVIDER_PERMS)
    for module in ADDED_GRANTS:
        importlib.import_module(module).grant(apps)
