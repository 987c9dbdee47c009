"""Reads an RFC 5545 calendar on stdin with the `icalendar` package (an
independent parser) and prints its events as JSON: uid, sequence, dtstart
and dtend (ISO 8601; UTC for date-times, a date for all-day events),
summary, description, location and whether the event is all-day. With
`--zone NAME`, each timed start is also given converted back to that IANA
zone with zoneinfo (`dtstart_local`).

A calendar that does not parse, or a date-time that is not in UTC, exits
non-zero with the reason on stderr.
"""

import argparse
import datetime
import json
import sys
import zoneinfo

import icalendar


def instant(value, name):
    if value is None:
        return None
    value = value.dt
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None or value.utcoffset() != datetime.timedelta(0):
            sys.exit(f"{name} is not in UTC: {value!r}")
        return value.astimezone(datetime.timezone.utc).isoformat()
    return value.isoformat()


def local(value, zone):
    if zone is None or value is None or not isinstance(value.dt, datetime.datetime):
        return None
    return value.dt.astimezone(zoneinfo.ZoneInfo(zone)).isoformat()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--zone")
    args = parser.parse_args()
    raw = sys.stdin.buffer.read()
    calendar = icalendar.Calendar.from_ical(raw)
    events = []
    for event in calendar.walk("VEVENT"):
        start = event.get("DTSTART")
        events.append(
            {
                "uid": str(event.get("UID")),
                "sequence": int(event.get("SEQUENCE", 0)),
                "dtstamp": instant(event.get("DTSTAMP"), "DTSTAMP"),
                "dtstart": instant(start, "DTSTART"),
                "dtstart_local": local(start, args.zone),
                "dtend": instant(event.get("DTEND"), "DTEND"),
                "summary": str(event.get("SUMMARY", "")),
                "description": str(event.get("DESCRIPTION", "")) or None,
                "location": str(event.get("LOCATION", "")) or None,
                "all_day": start is not None
                and not isinstance(start.dt, datetime.datetime),
            }
        )
    print(
        json.dumps(
            {
                "name": str(calendar.get("X-WR-CALNAME", "")),
                "prodid": str(calendar.get("PRODID", "")),
                "version": str(calendar.get("VERSION", "")),
                "events": events,
            }
        )
    )


if __name__ == "__main__":
    main()
