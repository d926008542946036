"""Date and time formats for English pages: every time carries its zone's abbreviation ("T"),
so nobody has to guess whose clock a time is on (Django's FORMAT_MODULE_PATH)."""

DATETIME_FORMAT = "D j M Y, H:i T"
SHORT_DATETIME_FORMAT = "j M Y, H:i T"
TIME_FORMAT = "H:i"
DATE_FORMAT = "D j M Y"
SHORT_DATE_FORMAT = "j M Y"
