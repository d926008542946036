"""The REST API (/api/v1/): thin views over the plans, reminders and consent services."""
