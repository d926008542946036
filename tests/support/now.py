"""Print the time this process reads, in UTC: shows that clocked children share a test's clock."""

import datetime as dt

print(dt.datetime.now(dt.UTC).isoformat())
