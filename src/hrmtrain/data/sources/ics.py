"""iCalendar files: parsed leniently with `icalendar`, recurrences expanded with `recurring-ical-events`.

Real calendars are messy (see the icalendar test-suite files in the shared fixtures): a BOM, several
VCALENDARs in one file, a property given twice, a DTEND before DTSTART, a TZID with no VTIMEZONE,
Windows time-zone names, an RRULE that ticks every minute since 1990. Each problem that leaves the
event usable is a warning; one that does not drops that event or series with a warning; a file that
holds no calendar is skipped with the reason. Nothing raises out of `read_ics`.

Times: icalendar resolves IANA and Windows TZIDs to zoneinfo and custom VTIMEZONEs to dateutil
zones; a floating time or an unknown TZID is taken in the household's time zone. Every occurrence
in the household's window (`WINDOW_BEFORE` before to `WINDOW_AFTER` after its "now"), or for a
series with none there the occurrences of its own first year, becomes one record in the household's
local time. Kept fields: title, start, end, all-day, location,
attendees (names), UID; who an event concerns also from its organizer, attendees' CNs and names
in its text (possibly concerned members need consent too); descriptions, alarms and attachments are dropped (minimisation).
"""

from __future__ import annotations

import re
import signal
import threading
import warnings
from collections import OrderedDict
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from hrmtrain.data.sources.records import Loaded, Record, Skipped

from hrmtrain.privacy.directory import Directory

WINDOW_BEFORE = timedelta(days=365)
WINDOW_AFTER = timedelta(days=365)
MAX_OCCURRENCES_PER_SERIES = 200
MAX_OCCURRENCES_PER_FILE = 2000
FILE_TIME_BUDGET_S = 20.0
FREQ_SECONDS = {"SECONDLY": 1, "MINUTELY": 60, "HOURLY": 3600, "DAILY": 86400, "WEEKLY": 7 * 86400,
                "MONTHLY": 28 * 86400, "YEARLY": 365 * 86400}
# dateutil iterates an RRULE from DTSTART on every query (~2e5 steps/s): refuse series that cost more.
MAX_RULE_STEPS = 200_000
# What icalendar / recurring-ical-events raise for bad content of one series: ValueError (their
# InvalidCalendar, BrokenCalendarProperty, BadRuleStringFormat...), KeyError (no DTSTART),
# AttributeError (a property given twice comes back as a list), TypeError/OverflowError (date vs
# datetime arithmetic, far-future dates).
SERIES_ERRORS = (ValueError, KeyError, AttributeError, TypeError, OverflowError)


def _one_line(text, limit: int = 160) -> str:
    s = re.sub(r"\s+", " ", str(text)).strip()
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _decode(data: bytes) -> tuple[str, str | None]:
    """icalendar would decode with errors='replace' (silent U+FFFD): decode here, and say so."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return data.decode("cp1252", errors="replace"), f"not valid UTF-8 ({exc.reason} at byte {exc.start}); read as cp1252"


def _utc(value, floating: tzinfo) -> tuple[datetime, bool]:
    """(aware UTC datetime, all-day?) of a DTSTART/DTEND value."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            value = value.replace(tzinfo=floating)
        return value.astimezone(timezone.utc), False
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=floating).astimezone(timezone.utc), True
    raise TypeError(f"not a date or date-time: {type(value).__name__}")


def _first(component, name: str, warn) -> object:
    value = component.get(name)
    if isinstance(value, list):  # a single-valued property given several times
        warn(f"{name} given {len(value)} times; using the first")
        value = component[name] = value[0]
    return value


def _usable_dt(prop):
    from icalendar import BrokenCalendarProperty

    try:
        return prop.dt
    except (BrokenCalendarProperty, AttributeError, ValueError):
        return None


def _sanitise(ev, warn, floating: tzinfo) -> bool:
    """Repair one VEVENT in place where that keeps its meaning; False drops it."""
    from icalendar import vBroken

    start_prop = _first(ev, "DTSTART", warn)
    start = _usable_dt(start_prop) if start_prop is not None else None
    if not isinstance(start, date):
        warn("no usable DTSTART; event dropped")
        return False
    if isinstance(start, datetime) and start.tzinfo is None and "TZID" in getattr(start_prop, "params", {}):
        warn(f"unknown TZID {start_prop.params['TZID']!r}; taken as household time")
    for name in ("DTEND", "DURATION"):
        prop = _first(ev, name, warn)
        if prop is not None and (isinstance(prop, vBroken) or _usable_dt(prop) is None):
            warn(f"{name} unreadable ({_one_line(prop, 60)!r}); dropped, default length used")
            del ev[name]
    if "DTEND" in ev and "DURATION" in ev:
        warn("both DTEND and DURATION; DURATION dropped")
        del ev["DURATION"]
    if "DTEND" in ev:
        try:
            if _utc(ev["DTEND"].dt, floating)[0] < _utc(start, floating)[0]:
                warn("DTEND before DTSTART; DTEND dropped")
                del ev["DTEND"]
        except (TypeError, OverflowError):
            warn("DTEND not comparable with DTSTART; DTEND dropped")
            del ev["DTEND"]
    for name in ("RRULE", "RDATE", "EXDATE", "EXRULE"):
        values = ev.get(name)
        items = values if isinstance(values, list) else [values]
        if values is not None and any(isinstance(v, vBroken) for v in items):
            warn(f"{name} unreadable; dropped (single occurrence)")
            del ev[name]
    rid = ev.get("RECURRENCE-ID")
    if rid is not None and (isinstance(rid, list) or _usable_dt(rid) is None):
        warn("RECURRENCE-ID unreadable; override dropped")
        return False
    return True


def _too_expensive(ev, window_start: datetime, window_end: datetime) -> str | None:
    rules = ev.get("RRULE")
    for rule in rules if isinstance(rules, list) else [rules] if rules is not None else []:
        freq = (rule.get("FREQ") or [None])[0]
        if freq not in FREQ_SECONDS:
            continue
        interval = max(1, int((rule.get("INTERVAL") or [1])[0] or 1))
        try:
            start = _utc(ev["DTSTART"].dt, timezone.utc)[0]
        except (TypeError, OverflowError):
            continue
        steps = (window_end - min(start, window_end)).total_seconds() / (FREQ_SECONDS[freq] * interval)
        if steps > MAX_RULE_STEPS:
            return f"RRULE FREQ={freq} from {start:%Y-%m-%d} needs ~{steps:,.0f} steps to reach the window"
    return None


class _Budget:
    """A wall-clock budget per file (SIGALRM; main thread on POSIX only, elsewhere no limit)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.active = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()

    def _fire(self, *_):
        raise TimeoutError(f"took longer than {self.seconds:.0f} s (pathological recurrence?)")

    def __enter__(self):
        if self.active:
            self.previous = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False


def _window(directory: Directory) -> tuple[datetime, datetime, tzinfo]:
    tz = ZoneInfo(directory.timezone)
    now = datetime.fromisoformat(directory.now) if directory.now else datetime.now()
    now = now.replace(tzinfo=tz) if now.tzinfo is None else now
    return now - WINDOW_BEFORE, now + WINDOW_AFTER, tz


def read_ics(path: Path, directory: Directory) -> Loaded:
    out = Loaded()
    try:
        with _Budget(FILE_TIME_BUDGET_S):
            _read(path, directory, out)
    except TimeoutError as exc:
        out.records.clear()
        out.skipped.append(Skipped(str(path), str(exc)))
    return out


def _read(path: Path, directory: Directory, out: Loaded) -> None:
    import recurring_ical_events
    import x_wr_timezone
    from icalendar import Calendar

    data = path.read_bytes()
    if not data.strip():
        out.skipped.append(Skipped(str(path), "empty file"))
        return
    text, note = _decode(data)
    if note:
        out.warnings.append(Skipped(str(path), note))
    if not re.search(r"(?im)^BEGIN:VCALENDAR\s*$", text):
        out.skipped.append(Skipped(str(path), "no BEGIN:VCALENDAR line (not an iCalendar file)"))
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            components = Calendar.from_ical(text, multiple=True)
        except ValueError as exc:
            out.skipped.append(Skipped(str(path), f"cannot parse: {_one_line(exc)}"))
            return
    calendars = [c for c in components if c.name == "VCALENDAR"]
    if not calendars:
        out.skipped.append(Skipped(str(path), "no complete VCALENDAR (missing END:VCALENDAR?)"))
        return
    start, end, tz = _window(directory)
    owner = directory.by_name(path.stem)
    n_events = 0
    for cal in calendars:
        for component in cal.walk():
            for prop, message in component.errors:  # what the lenient parser swallowed
                out.warnings.append(Skipped(str(path), f"{prop or 'content line'}: {_one_line(message, 120)}",
                                            f"{component.name} {component.get('UID', '')}".strip()))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cal = x_wr_timezone.to_standard(cal)  # Google's X-WR-TIMEZONE semantics
            series: OrderedDict[str, list] = OrderedDict()
            for i, ev in enumerate(cal.walk("VEVENT")):
                uid = str(_first(ev, "UID", lambda m: None) or f"event {i + 1}")
                n_events += 1

                def warn(message: str, uid=uid) -> None:
                    out.warnings.append(Skipped(str(path), message, f"VEVENT {uid}"))

                if not _sanitise(ev, warn, tz):
                    continue
                if why := _too_expensive(ev, start, end):
                    warn(f"{why}; series dropped")
                    continue
                series.setdefault(uid, []).append(ev)
            for uid, events in series.items():
                if len(events) == 1 and "RECURRENCE-ID" in events[0] and any(k in events[0] for k in ("RRULE", "RDATE")):
                    del events[0]["RECURRENCE-ID"]  # an override without its master: expand it as the master
                group = Calendar()
                for ev in events:
                    group.add_component(ev)
                try:
                    occurrences = recurring_ical_events.of(group).between(start, end)
                    if not occurrences:  # an older (or later) series: its own first year instead
                        first = min(_utc(e["DTSTART"].dt, tz)[0] for e in events)
                        occurrences = recurring_ical_events.of(group).between(first - timedelta(days=1),
                                                                              first + timedelta(days=365))
                except SERIES_ERRORS as exc:
                    out.warnings.append(Skipped(str(path), f"recurrence expansion failed ({_one_line(exc, 100)}); "
                                                           "series dropped", f"VEVENT {uid}"))
                    continue
                if len(occurrences) > MAX_OCCURRENCES_PER_SERIES:
                    out.warnings.append(Skipped(str(path), f"{len(occurrences)} occurrences in the window; kept the "
                                                           f"first {MAX_OCCURRENCES_PER_SERIES}", f"VEVENT {uid}"))
                for occ in occurrences[:MAX_OCCURRENCES_PER_SERIES]:
                    try:
                        out.records.append(_record(occ, uid, path, tz, directory, owner))
                    except SERIES_ERRORS as exc:
                        out.warnings.append(Skipped(str(path), f"occurrence dropped ({_one_line(exc, 100)})",
                                                    f"VEVENT {uid}"))
    if len(out.records) > MAX_OCCURRENCES_PER_FILE:
        out.warnings.append(Skipped(str(path), f"{len(out.records)} occurrences; kept the first {MAX_OCCURRENCES_PER_FILE}"))
        del out.records[MAX_OCCURRENCES_PER_FILE:]
    if not out.records and not out.skipped:
        if n_events == 0:
            reason = "calendar holds no events"
        elif out.warnings:
            reason = f"no usable event: {out.warnings[-1].reason}"
        else:
            reason = f"no event in the household's window ({start:%Y-%m-%d} to {end:%Y-%m-%d})"
        out.skipped.append(Skipped(str(path), reason))


def _local(value: datetime, tz: tzinfo) -> str:
    return value.astimezone(tz).replace(tzinfo=None).isoformat(timespec="minutes")


def _record(occ, uid: str, path: Path, tz: tzinfo, directory: Directory, owner: str | None) -> Record:
    from icalendar import vCalAddress

    begin, all_day = _utc(occ["DTSTART"].dt, tz)
    end = _utc(occ["DTEND"].dt, tz)[0] if occ.get("DTEND") is not None else begin
    if end <= begin:
        end = begin + (timedelta(days=1) if all_day else timedelta(hours=1))
    attendees = occ.get("ATTENDEE") or []
    attendees = attendees if isinstance(attendees, list) else [attendees]
    names, members, possible = [], {owner} if owner else set(), set()
    organizers = occ.get("ORGANIZER") or []
    organizers = organizers if isinstance(organizers, list) else [organizers]
    for n, a in enumerate(attendees + organizers):
        address = re.sub(r"(?i)^mailto:", "", str(a))
        name = str(a.params.get("CN", "")) if isinstance(a, vCalAddress) else ""
        member = directory.by_email(address)
        if member:
            members.add(member)
        else:  # CN="Sam Roberts" at a work address: possibly Sam
            possible |= directory.possibly_named(name, address)
        if n < len(attendees):
            names.append(member or name or address)
    location = occ.get("LOCATION")
    location = location[0] if isinstance(location, list) else location
    for prop in ("SUMMARY", "LOCATION", "DESCRIPTION", "COMMENT", "CONTACT"):
        value = occ.get(prop)
        for v in value if isinstance(value, list) else [value]:
            possible |= directory.named_in(str(v)) if v is not None else set()
    fields = {"title": _one_line(occ.get("SUMMARY") or "(no title)", 200), "start": _local(begin, tz),
              "end": _local(end, tz), "all_day": all_day, "attendees": names, "uid": uid}
    if location:
        fields["location"] = _one_line(location, 200)
    return Record("event", "calendar", str(path), f"{uid}#{fields['start']}", fields, sorted(members),
                  sorted(possible - members))
