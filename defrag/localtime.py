"""Local civil time to UTC: reading the fields, finding the zone, applying its rules.

The zone rules come from defrag/data/tzdata-backzone.zip, a build of the tz
database that keeps the pre-1970 history of its `backzone` file (made by
tools/build_tzdata_bundle.py). Zones are loaded with `ZoneInfo.from_file` and
never from the machine's /usr/share/zoneinfo, which `zoneinfo.ZoneInfo(key)`
would search first, so a result does not depend on the host.

Before a place had standard time, the tz database gives the local mean time
of the zone's reference city. When the zone came from lat/lon, the local
mean time at the place's own longitude is used instead.

After reading, dates are proleptic Gregorian. A Julian-calendar date is
converted through its Julian Day Number.

This module imports no gRPC and no Redis: services map its errors to their
own error shape.
"""

import dataclasses
import datetime as dt
import functools
import importlib.resources
import io
import re
import zipfile
import zoneinfo

from timezonefinder import TimezoneFinder

# "auto" reads a date before 1582-10-15 as Julian and a later one as
# Gregorian. "gregorian" is proleptic Gregorian throughout, and "julian" is
# Julian throughout, for places that changed later (Russia in 1918, Greece in 1923).
CALENDARS = ("auto", "gregorian", "julian")
DEFAULT_CALENDAR = "auto"

# The first day of the Gregorian calendar. Julian Thursday 1582-10-04 was
# followed by Gregorian Friday 1582-10-15, so the ten dates in between do not
# exist under "auto".
GREGORIAN_REFORM = dt.date(1582, 10, 15)

# Date fields accept these years. A caller narrows them to its engine's range.
FORMAT_YEARS = (1, 9999)

# Fixed offsets may range over -14:00..+14:00, which covers every zone in use
# from Etc/GMT+12 (-12:00) to Pacific/Kiritimati (+14:00).
MAX_UTC_OFFSET = dt.timedelta(hours=14)

# The tz release in defrag/data/tzdata-backzone.zip (its VERSION entry).
# Regenerate the zip with tools/build_tzdata_bundle.py and update this value
# and docs/time.md together.
TZDATA_VERSION = "2026f"
_BUNDLE_PATH = ("data", "tzdata-backzone.zip")

# Without a time of day, a reading is taken at local noon.
NOON = dt.time(12, 0)
NOON_WARNING = "time is missing, so local noon (12:00:00) was used: send time for the exact moment"

_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIME = re.compile(r"([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?")
_OFFSET = re.compile(r"([+-])([0-9]{2}):([0-9]{2})")

# The tz database lists "Factory" as a zone, but it is a placeholder with the
# abbreviation "-00", not a place's time.
_NOT_PLACES = frozenset({"Factory"})

# The abbreviation that the tz database gives to local mean time.
_LOCAL_MEAN_TIME = "LMT"


class InvalidField(ValueError):
    """A request field that cannot be used. The description states the rule and the fix."""

    def __init__(self, field: str, description: str):
        super().__init__(f"{field}: {description}")
        self.field = field
        self.description = description


class InvalidInput(ValueError):
    """One or more invalid fields, reported together so a caller can fix them at once."""

    def __init__(self, errors: list[InvalidField]):
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors


@dataclasses.dataclass(frozen=True)
class LocalReading:
    """The local date and time fields after parsing, before a zone is applied."""

    local: dt.datetime  # naive, proleptic Gregorian
    tz: str  # validated IANA name, or "" when not given
    utc_offset: dt.timedelta | None  # fixed offset, or None when not given
    fold: int
    warnings: tuple[str, ...]
    time_known: bool = True  # False when no time was given and local noon was used


@dataclasses.dataclass(frozen=True)
class ResolvedTime:
    """A local time with its zone applied."""

    utc: dt.datetime  # aware, tzinfo=UTC
    local: dt.datetime  # naive, proleptic Gregorian, as read
    zone_name: str  # IANA name, or "UTC+HH:MM" for a fixed offset
    utc_offset: dt.timedelta  # offset in force at that local time
    warnings: tuple[str, ...]
    local_mean_time: bool = False  # True when utc_offset is local mean time at the place's longitude
    time_known: bool = True  # False when no time was given and local noon was used


class NonexistentLocalTime(InvalidField):
    """A local time that the clocks skipped (spring-forward gap) in that zone."""


def shown(value: str, limit: int = 64) -> str:
    """Quote a rejected value for an error message, cut to `limit` characters so a huge input cannot bloat the reply."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"


def julian_to_gregorian(year: int, month: int, day: int) -> tuple[int, int, int]:
    """Convert a Julian-calendar date to the proleptic Gregorian date of the same day.

    The day is carried by its Julian Day Number, in integer arithmetic only.
    The caller checks that the Julian date exists.
    """
    return _jdn_to_gregorian(_julian_to_jdn(year, month, day))


def format_utc_offset(offset: dt.timedelta) -> str:
    """Format an offset as "+HH:MM", or "+HH:MM:SS" when it has seconds (local mean time)."""
    seconds = int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}{hours:02d}:{minutes:02d}"
    return f"{text}:{seconds:02d}" if seconds else text


def zone_names() -> frozenset[str]:
    """Return every IANA zone and link name in the bundled tz database."""
    return _zone_names()


def load_zone(name: str) -> zoneinfo.ZoneInfo:
    """Load an IANA zone from the bundled tz database. Raises InvalidField("tz") for an unknown name."""
    if name not in _zone_names():
        raise InvalidField("tz", _unknown_zone_description(name))
    return _load_known_zone(name)


def zone_at(lat: float, lon: float) -> str | None:
    """Return the IANA zone that contains the point, from timezonefinder's offline boundaries.

    Points at sea get a nautical zone such as "Etc/GMT+2". Returns None only
    where the boundary data has no zone at all.
    """
    return _zone_finder().timezone_at(lng=lon, lat=lat)


def read_local_time(
    date: str,
    time: str,
    *,
    tz: str = "",
    utc_offset: str = "",
    fold: int = 0,
    calendar: str = "",
    years: tuple[int, int] = FORMAT_YEARS,
) -> LocalReading:
    """Parse the local-time fields of a request, checking every field.

    An empty `time` reads local noon and sets time_known=False. `years` is
    the inclusive range of Gregorian years allowed after a Julian date is
    converted. Raises InvalidInput with one InvalidField per bad field.
    """
    errors: list[InvalidField] = []
    warnings: list[str] = []

    # An unknown calendar leaves only the date's format to check. Errors are
    # listed in the order of the request's fields, so calendar comes last.
    calendar_name = calendar or DEFAULT_CALENDAR
    known_calendar = calendar_name if calendar_name in CALENDARS else None

    date_read = _collect(errors, _read_date, date, known_calendar, years)
    local_clock = _collect(errors, _read_clock_time, time) if time else NOON
    zone_name = _collect(errors, _read_tz, tz) if tz else ""
    offset = _collect(errors, _read_utc_offset, utc_offset) if utc_offset else None

    if fold not in (0, 1):
        errors.append(InvalidField("fold", f"{fold} is not 0 or 1: use 0 for the first occurrence of a repeated local time, 1 for the second"))
    if known_calendar is None:
        errors.append(InvalidField("calendar", f"{shown(calendar)} is not a supported calendar: use one of {', '.join(CALENDARS)}"))

    if errors:
        raise InvalidInput(errors)

    local_date, applied_calendar = date_read
    if applied_calendar == "julian":
        warnings.append(_julian_warning(date, local_date, known_calendar))
    if not time:
        warnings.append(NOON_WARNING)
    if zone_name and offset is not None:
        warnings.append(f"tz {zone_name} was ignored because utc_offset {utc_offset} is set")

    return LocalReading(
        local=dt.datetime.combine(local_date, local_clock),
        tz=zone_name,
        utc_offset=offset,
        fold=fold,
        warnings=tuple(warnings),
        time_known=bool(time),
    )


def read_message_time(message, *, years: tuple[int, int] = FORMAT_YEARS, unknown_time: str = "") -> LocalReading:
    """Parse the local-time fields of a request message with BirthData's field names, as read_local_time does.

    `message` is a protobuf message (duck-typed, so this module still imports
    no gRPC). An unset fold reads as 0, and an empty time as `unknown_time`.
    """
    return read_local_time(
        message.date,
        message.time or unknown_time,
        tz=message.tz,
        utc_offset=message.utc_offset,
        fold=message.fold if message.HasField("fold") else 0,
        calendar=message.calendar,
        years=years,
    )


def resolve(reading: LocalReading, lat: float, lon: float) -> ResolvedTime:
    """Apply the zone to a reading: utc_offset if set, else tz, else the zone found at lat/lon.

    Where the zone found at lat/lon had no standard time yet, the offset is
    the local mean time at `lon`. An explicit tz keeps that zone's own rules,
    including the local mean time of its reference city.

    Raises NonexistentLocalTime (field "time") for a local time in a
    spring-forward gap, and InvalidField("tz") when no zone contains the place.
    """
    warnings = list(reading.warnings)

    try:
        if reading.utc_offset is not None:
            offset = reading.utc_offset
            zone_name = f"UTC{format_utc_offset(offset)}"
            utc = (reading.local - offset).replace(tzinfo=dt.UTC)
            local_mean_time = False
        else:
            zone_name = reading.tz or _zone_name_at(lat, lon, warnings)
            utc, offset, local_mean_time = _apply_zone(reading, zone_name, lon, warnings)
    except OverflowError:
        # Only reachable with the default FORMAT_YEARS, at the edges of year 1 and year 9999.
        raise InvalidField("date", f"{reading.local.isoformat()} falls outside 0001..9999 in UTC: send a date at least one day inside that range") from None

    return ResolvedTime(
        utc=utc,
        local=reading.local,
        zone_name=zone_name,
        utc_offset=offset,
        warnings=tuple(warnings),
        local_mean_time=local_mean_time,
        time_known=reading.time_known,
    )


def local_day_bounds(reading: LocalReading, lat: float, lon: float) -> tuple[dt.datetime, dt.datetime]:
    """Return the UTC instants at which the reading's local date begins and the next local date begins.

    Each is local midnight in the zone that resolve() applies. Where the clocks
    skipped midnight, the day begins at the end of the gap, found as the first
    quarter hour after midnight that exists. That is exact for every gap that
    is a whole number of quarter hours, as all in the tz database are. Raises
    NonexistentLocalTime when no such time exists within six hours.
    """
    bounds = []
    for day in (0, 1):
        midnight = dt.datetime.combine(reading.local.date() + dt.timedelta(days=day), dt.time())
        for quarter in range(0, 6 * 4 + 1):
            candidate = dataclasses.replace(
                reading, local=midnight + dt.timedelta(minutes=15 * quarter), fold=0, warnings=(), time_known=True)
            try:
                bounds.append(resolve(candidate, lat, lon).utc)
                break
            except NonexistentLocalTime:
                continue
        else:
            raise NonexistentLocalTime("date", f"{midnight.date().isoformat()} has no local time from 00:00 to 06:00 in this zone: check the date")
    return bounds[0], bounds[1]


def mean_time_offset(lon: float) -> dt.timedelta:
    """Return local mean time's offset from UTC at a longitude: 4 minutes per degree east, to the nearest second."""
    return dt.timedelta(seconds=round(lon * 240))


def _collect(errors: list[InvalidField], read, *args):
    """Call a reader and return its result, or append its InvalidField to errors and return None."""
    try:
        return read(*args)
    except InvalidField as error:
        errors.append(error)
        return None


def _read_date(text: str, calendar: str | None, years: tuple[int, int]) -> tuple[dt.date, str] | None:
    """Parse YYYY-MM-DD in the calendar and return the Gregorian date with the calendar applied.

    The calendar applied is "julian" or "gregorian", and "auto" picks one by
    the date. With calendar None (the calendar field itself is invalid) only the
    format is checked, and None is returned.
    """
    fix = "send the local date as YYYY-MM-DD, for example 1990-01-15"
    if not text:
        raise InvalidField("date", f"date is missing: {fix}")
    match = _DATE.fullmatch(text)
    if match is None:
        raise InvalidField("date", f"{shown(text)} is not a date in the format YYYY-MM-DD: {fix}")

    year, month, day = (int(part) for part in match.groups())
    if not FORMAT_YEARS[0] <= year <= FORMAT_YEARS[1] or not 1 <= month <= 12:
        raise InvalidField("date", f"{text!r} has a year outside 0001..9999 or a month outside 01..12: {fix}")
    if calendar is None:
        return None

    if calendar == "auto":
        calendar = _auto_calendar(text, year, month, day)
    last_day = _days_in_month(year, month, calendar)
    if not 1 <= day <= last_day:
        raise InvalidField("date", f"{text!r} does not exist: month {month:02d} of {year} has {last_day} days in the {calendar} calendar")

    if calendar == "julian":
        year, month, day = julian_to_gregorian(year, month, day)
    if not years[0] <= year <= years[1]:
        raise InvalidField(
            "date",
            f"{text!r} ({calendar}) is outside the supported range: send a date from {years[0]:04d}-01-01 to {years[1]:04d}-12-31 (Gregorian)",
        )
    return dt.date(year, month, day), calendar


def _auto_calendar(text: str, year: int, month: int, day: int) -> str:
    """Pick the calendar of a date under "auto". Raises InvalidField("date") for 1582-10-05..1582-10-14."""
    if (year, month, day) >= (GREGORIAN_REFORM.year, GREGORIAN_REFORM.month, GREGORIAN_REFORM.day):
        return "gregorian"
    if (year, month, day) < (1582, 10, 5):
        return "julian"

    as_julian = dt.date(*julian_to_gregorian(year, month, day))
    raise InvalidField(
        "date",
        f"{text!r} does not exist in the default calendar, because the Julian calendar ended on 1582-10-04 and the "
        f"Gregorian calendar began on 1582-10-15. Send calendar=julian to read it as a Julian date "
        f"(Gregorian {as_julian.isoformat()}), or calendar=gregorian to read it as a proleptic Gregorian date",
    )


def _julian_warning(text: str, gregorian: dt.date, requested_calendar: str) -> str:
    if requested_calendar == "julian":
        return f"date {text} in the Julian calendar was read as {gregorian.isoformat()} in the Gregorian calendar"
    return (
        f"date {text} is before {GREGORIAN_REFORM.isoformat()}, so it was read in the Julian calendar as "
        f"{gregorian.isoformat()} in the Gregorian calendar: send calendar=gregorian for a proleptic Gregorian date"
    )


def _read_clock_time(text: str) -> dt.time:
    fix = "send the local time as HH:MM or HH:MM:SS on a 24-hour clock, for example 14:30, or no time for local noon"
    match = _TIME.fullmatch(text)
    if match is None:
        raise InvalidField("time", f"{shown(text)} is not a time in the format HH:MM or HH:MM:SS: {fix}")

    hour, minute = int(match.group(1)), int(match.group(2))
    second = int(match.group(3) or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise InvalidField("time", f"{text!r} is outside 00:00:00..23:59:59: {fix}")
    return dt.time(hour, minute, second)


def _read_tz(text: str) -> str:
    if text not in _zone_names():
        raise InvalidField("tz", _unknown_zone_description(text))
    return text


def _read_utc_offset(text: str) -> dt.timedelta:
    fix = 'send "+HH:MM" or "-HH:MM" between -14:00 and +14:00, for example "-05:00"'
    match = _OFFSET.fullmatch(text)
    if match is None:
        raise InvalidField("utc_offset", f"{shown(text)} is not an offset in the format +HH:MM or -HH:MM: {fix}")

    sign = -1 if match.group(1) == "-" else 1
    hours, minutes = int(match.group(2)), int(match.group(3))
    offset = sign * dt.timedelta(hours=hours, minutes=minutes)
    if minutes > 59 or abs(offset) > MAX_UTC_OFFSET:
        raise InvalidField("utc_offset", f"{text!r} is outside -14:00..+14:00: {fix}")
    return offset


def _unknown_zone_description(name: str) -> str:
    description = f"{shown(name)} is not an IANA time zone name in tzdata {TZDATA_VERSION}"
    by_lowercase = {known.lower(): known for known in _zone_names()}
    suggestion = by_lowercase.get(name.lower())
    if suggestion:
        return f"{description}: names are case-sensitive, use {suggestion!r}"
    if _OFFSET.fullmatch(name) or name.upper().startswith(("UTC+", "UTC-", "GMT+", "GMT-")):
        return f"{description}: send a fixed offset in utc_offset as +HH:MM instead"
    return f"{description}: use a name such as 'America/New_York', or leave tz empty to find the zone from lat/lon"


def _zone_name_at(lat: float, lon: float, warnings: list[str]) -> str:
    name = zone_at(lat, lon)
    if name is None:
        raise InvalidField("tz", "no time zone was found at this lat/lon: set tz or utc_offset")
    if name.startswith("Etc/"):
        warnings.append(f"the place is outside every land time zone, so the time was read in the nautical zone {name}")
    return name


def _apply_zone(
    reading: LocalReading,
    zone_name: str,
    lon: float,
    warnings: list[str],
) -> tuple[dt.datetime, dt.timedelta, bool]:
    """Convert a reading to UTC in a zone. Returns UTC, the offset, and whether it is local mean time at `lon`."""
    zone = _load_known_zone(zone_name)
    zone_mean_time = _zone_mean_time(reading.local, zone)

    if zone_mean_time is not None and not reading.tz:
        offset = _same_side_of_date_line(mean_time_offset(lon), zone_mean_time)
        warnings.append(
            f"{zone_name} had no standard time at {reading.local.isoformat()}, so local mean time at longitude {lon} "
            f"({format_utc_offset(offset)}) was used. Send tz={zone_name} for the local mean time of the zone's "
            f"reference city ({format_utc_offset(zone_mean_time)})"
        )
        return (reading.local - offset).replace(tzinfo=dt.UTC), offset, True

    if zone_mean_time is not None:
        warnings.append(
            f"{zone_name} had no standard time at {reading.local.isoformat()}, so the local mean time of the zone's "
            f"reference city ({format_utc_offset(zone_mean_time)}) was used: leave tz empty to use local mean time "
            "at the place's longitude"
        )
    utc, offset = _to_utc(reading.local, zone, zone_name, reading.fold, warnings)
    return utc, offset, False


def _same_side_of_date_line(offset: dt.timedelta, zone_mean_time: dt.timedelta) -> dt.timedelta:
    """Shift a place's mean-time offset by whole days to within 12 hours of the zone's.

    Some places once kept the calendar date of the far side of the date line.
    Apia's LMT was +12:33:04 until 1892 although Samoa lies near 171.75 W, so
    the place's offset there is about +12:33, not -11:27.
    """
    day = dt.timedelta(days=1)
    while offset - zone_mean_time > day / 2:
        offset -= day
    while zone_mean_time - offset > day / 2:
        offset += day
    return offset


def _zone_mean_time(local: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.timedelta | None:
    """Return the zone's local mean time offset when the zone gives LMT for this local time, else None.

    Both readings must be LMT. A local time that is LMT in only one of them
    lies at the switch to standard time, and _to_utc handles it as a gap or a
    repeat in the zone's own offsets.
    """
    # NOTE: the LMT period ends at the zone's own switch, taken in the
    # reference city's mean time. At a place far from that city the switch
    # may fall minutes earlier or later than this check assumes.
    first = local.replace(tzinfo=zone, fold=0)
    second = local.replace(tzinfo=zone, fold=1)
    if first.tzname() == _LOCAL_MEAN_TIME and second.tzname() == _LOCAL_MEAN_TIME:
        return first.utcoffset()
    return None


def _to_utc(
    local: dt.datetime,
    zone: zoneinfo.ZoneInfo,
    zone_name: str,
    fold: int,
    warnings: list[str],
) -> tuple[dt.datetime, dt.timedelta]:
    """Convert a naive local time in a zone to UTC, following PEP 495 for gaps and repeats.

    For a time the clocks skipped, fold=0 reads it at the offset before the
    transition and fold=1 at the offset after. For a repeated time, fold=0 is
    the first occurrence.

        spring forward            fall back
        01:59 -> 03:00            01:59 EDT -> 01:00 EST
        02:30 does not exist      01:30 happens twice
    """
    first = local.replace(tzinfo=zone, fold=0)
    second = local.replace(tzinfo=zone, fold=1)
    first_offset, second_offset = first.utcoffset(), second.utcoffset()

    if first_offset == second_offset:
        return first.astimezone(dt.UTC), first_offset

    if not _exists(first, local):
        raise NonexistentLocalTime("time", _gap_description(local, zone, zone_name, first_offset, second_offset))

    chosen, other = (first, second) if fold == 0 else (second, first)
    occurrence, other_occurrence = ("first", "second") if fold == 0 else ("second", "first")
    warnings.append(
        f"local time {local.isoformat()} occurs twice in {zone_name}; it was read as the {occurrence} occurrence "
        f"({format_utc_offset(chosen.utcoffset())}). Set fold={1 - fold} for the {other_occurrence} occurrence "
        f"({format_utc_offset(other.utcoffset())})"
    )
    return chosen.astimezone(dt.UTC), chosen.utcoffset()


def _exists(aware: dt.datetime, local: dt.datetime) -> bool:
    """Tell whether the local time survives a round trip through UTC (false inside a gap)."""
    return aware.astimezone(dt.UTC).astimezone(aware.tzinfo).replace(tzinfo=None) == local


def _gap_description(
    local: dt.datetime,
    zone: zoneinfo.ZoneInfo,
    zone_name: str,
    before: dt.timedelta,
    after: dt.timedelta,
) -> str:
    # Each valid reading is the same wall-clock time taken at one of the two
    # offsets, then shown at the offset actually in force at that instant.
    old_reading, new_reading = (
        (local - offset).replace(tzinfo=dt.UTC).astimezone(zone) for offset in (before, after)
    )
    return (
        f"local time {local.isoformat()} does not exist in {zone_name} because the clocks moved forward from "
        f"{format_utc_offset(before)} to {format_utc_offset(after)}. Read at the old offset it is "
        f"{old_reading.isoformat()} (send {_as_fields(old_reading, local)}); read at the new offset it is "
        f"{new_reading.isoformat()} (send {_as_fields(new_reading, local)}). Or send utc_offset="
        f"{format_utc_offset(before)} or utc_offset={format_utc_offset(after)} with the original time"
    )


def _as_fields(reading: dt.datetime, local: dt.datetime) -> str:
    """Format a reading as the query parameters that request it: time, and date when it differs."""
    clock = reading.strftime("%H:%M" if reading.second == 0 else "%H:%M:%S")
    if reading.date() == local.date():
        return f"time={clock}"
    return f"date={reading.date().isoformat()}&time={clock}"


def _days_in_month(year: int, month: int, calendar: str) -> int:
    if month != 2:
        return (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    if calendar == "julian":
        leap = year % 4 == 0
    else:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 29 if leap else 28


def _julian_to_jdn(year: int, month: int, day: int) -> int:
    # Count from March so the leap day falls at the end of the counted year.
    shift = (14 - month) // 12
    y = year + 4800 - shift
    m = month + 12 * shift - 3
    return day + (153 * m + 2) // 5 + 365 * y + y // 4 - 32083


def _jdn_to_gregorian(jdn: int) -> tuple[int, int, int]:
    # Inverse of the Gregorian day count, with years starting on 1 March.
    a = jdn + 32044
    centuries = (4 * a + 3) // 146097
    c = a - 146097 * centuries // 4
    years = (4 * c + 3) // 1461
    e = c - 1461 * years // 4
    m = (5 * e + 2) // 153
    day = e - (153 * m + 2) // 5 + 1
    month = m + 3 - 12 * (m // 10)
    year = 100 * centuries + years - 4800 + m // 10
    return year, month, day


@dataclasses.dataclass(frozen=True)
class _Bundle:
    """The contents list of tzdata-backzone.zip."""

    version: str
    zones: frozenset[str]  # names with their own TZif entry, zoneinfo/<name>
    links: dict[str, str]  # link name to the zone whose entry it uses


@functools.cache
def _bundle_bytes() -> bytes:
    # The whole zip (about 280 KB) stays in memory, so no file handle stays open.
    return importlib.resources.files("defrag").joinpath(*_BUNDLE_PATH).read_bytes()


def _open_bundle() -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(_bundle_bytes()))


@functools.cache
def _bundle() -> _Bundle:
    with _open_bundle() as archive:
        version = archive.read("VERSION").decode("ascii").strip()
        links = dict(line.split() for line in archive.read("links").decode("ascii").splitlines())
        prefix = "zoneinfo/"
        zones = frozenset(entry.removeprefix(prefix) for entry in archive.namelist() if entry.startswith(prefix))
    return _Bundle(version=version, zones=zones, links=links)


@functools.cache
def _zone_names() -> frozenset[str]:
    bundle = _bundle()
    return (bundle.zones | bundle.links.keys()) - _NOT_PLACES


@functools.cache
def _load_known_zone(name: str) -> zoneinfo.ZoneInfo:
    # Only names from the bundle's own list reach this function. The cache
    # keeps at most one object per name (about 600).
    entry = _bundle().links.get(name, name)
    with _open_bundle() as archive:
        tzif = archive.read(f"zoneinfo/{entry}")
    return zoneinfo.ZoneInfo.from_file(io.BytesIO(tzif), key=name)


@functools.cache
def _zone_finder() -> TimezoneFinder:
    # One finder per process. in_memory=False memory-maps the boundary files
    # (about 32 MB on disk in timezonefinder-data 3.2026.3) instead of copying
    # them into each process, so worker processes share the page cache.
    return TimezoneFinder(in_memory=False)
