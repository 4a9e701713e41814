"""Clock arithmetic of the delivery rules, in the user's own timezone: quiet hours and the local day.

Pure functions of `now`, so tests pass any instant instead of waiting for one.
"""

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_HH_MM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def parse_hh_mm(value: str) -> time | None:
    """`"22:00"` → 22:00; None unless the text is a 24-hour HH:MM."""
    match = _HH_MM.fullmatch(value)
    return time(int(match.group(1)), int(match.group(2))) if match else None


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def quiet_hours_end(now: datetime, timezone: str, start: str | None, end: str | None) -> datetime | None:
    """The end of the quiet window `now` falls in (UTC), or None when `now` is outside it or there is none.

    The window is local wall-clock time and may cross midnight (22:00 to 07:00). On a DST day the end is
    the first instant at or after the wall-clock end (a skipped 02:30 becomes 03:30).
    """
    start_time = parse_hh_mm(start) if start else None
    end_time = parse_hh_mm(end) if end else None
    if start_time is None or end_time is None or start_time == end_time:
        return None
    tz = zone(timezone)
    local = now.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    if start_time < end_time:
        inside, end_day = start_time <= clock < end_time, local.date()
    elif clock >= start_time:
        inside, end_day = True, local.date() + timedelta(days=1)
    else:
        inside, end_day = clock < end_time, local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end_time, tzinfo=tz).astimezone(UTC)


def local_day_start(now: datetime, timezone: str) -> datetime:
    """Midnight of the user's current local day, as UTC."""
    tz = zone(timezone)
    local_date = now.astimezone(tz).date()
    return datetime.combine(local_date, time(0), tzinfo=tz).astimezone(UTC)
