"""Tests of defrag.localtime against published calendar and tz database facts.

Expected offsets follow the rules of the IANA tz database source files
(northamerica, australasia) quoted at each test, not values computed by the
code under test. The 2021 New York cases follow "Rule US 2007 max - Mar
Sun>=8 2:00 1:00 D" and "Rule US 2007 max - Nov Sun>=1 2:00 0 S".
"""

import datetime as dt

import pytest
import tzdata

from defrag import localtime

NEW_YORK = (40.7128, -74.0060)
LOS_ANGELES = (34.0522, -118.2437)


def resolve(date, time, lat_lon=NEW_YORK, **fields):
    reading = localtime.read_local_time(date, time, **fields)
    return localtime.resolve(reading, *lat_lon)


# --- Julian calendar -------------------------------------------------------


@pytest.mark.parametrize(
    ("julian", "gregorian"),
    [
        # The first Gregorian reform: Thursday 4 October 1582 (Julian) was
        # followed by Friday 15 October 1582 (Gregorian).
        ((1582, 10, 4), (1582, 10, 14)),
        ((1582, 10, 5), (1582, 10, 15)),
        # Great Britain, 1752: Wednesday 2 September was followed by Thursday 14 September.
        ((1752, 9, 2), (1752, 9, 13)),
        ((1752, 9, 3), (1752, 9, 14)),
        # Russia: the revolution of 25 October 1917 (Julian) fell on 7 November (Gregorian).
        ((1917, 10, 25), (1917, 11, 7)),
        # 1900 is a leap year only in the Julian calendar.
        ((1900, 2, 29), (1900, 3, 13)),
    ],
)
def test_julian_to_gregorian_published_pairs(julian, gregorian):
    assert localtime.julian_to_gregorian(*julian) == gregorian


def test_julian_date_read_with_warning():
    reading = localtime.read_local_time("1582-10-04", "12:00", calendar="julian")

    assert reading.local == dt.datetime(1582, 10, 14, 12, 0)
    assert reading.warnings == ("date 1582-10-04 in the Julian calendar was read as 1582-10-14 in the Gregorian calendar",)


def test_julian_leap_day_exists_only_in_julian():
    reading = localtime.read_local_time("1700-02-29", "00:00", calendar="julian")
    assert reading.local == dt.datetime(1700, 3, 11, 0, 0)

    with pytest.raises(localtime.InvalidInput) as caught:
        localtime.read_local_time("1700-02-29", "00:00", calendar="gregorian")
    assert [error.field for error in caught.value.errors] == ["date"]


# --- tz database rules -----------------------------------------------------


def test_los_angeles_winter_is_utc_minus_8():
    # Pacific standard time: daylight time ran from April to October under "Rule US 1987 2006".
    resolved = resolve("1990-01-15", "14:30", LOS_ANGELES)

    assert resolved.zone_name == "America/Los_Angeles"
    assert resolved.utc == dt.datetime(1990, 1, 15, 22, 30, tzinfo=dt.UTC)
    assert localtime.format_utc_offset(resolved.utc_offset) == "-08:00"
    assert resolved.warnings == ()


def test_us_emergency_dst_1974_in_january():
    # tz rule "Rule US 1974 only - Jan 6 2:00 1:00 D": daylight time from 6 January.
    resolved = resolve("1974-01-15", "12:00", LOS_ANGELES)

    assert localtime.format_utc_offset(resolved.utc_offset) == "-07:00"
    assert resolved.utc == dt.datetime(1974, 1, 15, 19, 0, tzinfo=dt.UTC)


def test_new_york_local_mean_time_before_1883():
    # tz line "Zone America/New_York -4:56:02 - LMT 1883 Nov 18 12:03:58" (local mean time).
    resolved = resolve("1800-06-01", "12:00", tz="America/New_York")

    assert localtime.format_utc_offset(resolved.utc_offset) == "-04:56:02"
    assert resolved.utc == dt.datetime(1800, 6, 1, 16, 56, 2, tzinfo=dt.UTC)


def test_spring_forward_gap_is_rejected():
    with pytest.raises(localtime.NonexistentLocalTime) as caught:
        resolve("2021-03-14", "02:30")

    error = caught.value
    assert error.field == "time"
    assert "does not exist in America/New_York" in error.description
    assert "2021-03-14T03:30:00-04:00" in error.description
    assert "2021-03-14T01:30:00-05:00" in error.description


def test_apia_skipped_whole_day():
    # tz line "-11:00 WS -11/-10 2011 Dec 29 24:00" then "13:00 WS +13/+14":
    # Samoa moved across the date line in daylight time, so 2011-12-30 never happened in Apia.
    with pytest.raises(localtime.NonexistentLocalTime) as caught:
        resolve("2011-12-30", "12:00", tz="Pacific/Apia")

    assert "from -10:00 to +14:00" in caught.value.description


def test_fall_back_reads_first_occurrence():
    resolved = resolve("2021-11-07", "01:30")

    assert resolved.utc == dt.datetime(2021, 11, 7, 5, 30, tzinfo=dt.UTC)
    assert localtime.format_utc_offset(resolved.utc_offset) == "-04:00"
    assert len(resolved.warnings) == 1
    assert "occurs twice in America/New_York" in resolved.warnings[0]
    assert "fold=1" in resolved.warnings[0]


def test_fall_back_fold_1_reads_second_occurrence():
    resolved = resolve("2021-11-07", "01:30", fold=1)

    assert resolved.utc == dt.datetime(2021, 11, 7, 6, 30, tzinfo=dt.UTC)
    assert localtime.format_utc_offset(resolved.utc_offset) == "-05:00"
    assert "fold=0" in resolved.warnings[0]


def test_fold_ignored_when_time_is_unique():
    resolved = resolve("2021-07-01", "12:00", fold=1)

    assert resolved.utc == dt.datetime(2021, 7, 1, 16, 0, tzinfo=dt.UTC)
    assert resolved.warnings == ()


# --- precedence: utc_offset > tz > lat/lon ---------------------------------


def test_utc_offset_overrides_tz():
    resolved = resolve("2021-03-14", "02:30", tz="America/New_York", utc_offset="+05:30")

    assert resolved.zone_name == "UTC+05:30"
    assert resolved.utc == dt.datetime(2021, 3, 13, 21, 0, tzinfo=dt.UTC)
    assert resolved.warnings == ("tz America/New_York was ignored because utc_offset +05:30 is set",)


def test_tz_overrides_lat_lon():
    resolved = resolve("2021-01-15", "12:00", NEW_YORK, tz="Asia/Tokyo")

    assert resolved.zone_name == "Asia/Tokyo"
    assert resolved.utc == dt.datetime(2021, 1, 15, 3, 0, tzinfo=dt.UTC)


def test_utc_offset_minus_14_allowed():
    resolved = resolve("2021-01-15", "12:00", utc_offset="-14:00")

    assert resolved.utc == dt.datetime(2021, 1, 16, 2, 0, tzinfo=dt.UTC)
    assert resolved.zone_name == "UTC-14:00"


# --- zone lookup from lat/lon ----------------------------------------------


@pytest.mark.parametrize(
    ("lat", "lon", "zone"),
    [
        (40.7128, -74.0060, "America/New_York"),
        (34.0522, -118.2437, "America/Los_Angeles"),
        (51.5074, -0.1278, "Europe/London"),
        (48.8566, 2.3522, "Europe/Paris"),
        (35.6762, 139.6503, "Asia/Tokyo"),
        (-33.8688, 151.2093, "Australia/Sydney"),
        (22.5726, 88.3639, "Asia/Kolkata"),
        (-23.5505, -46.6333, "America/Sao_Paulo"),
    ],
)
def test_zone_at_well_known_cities(lat, lon, zone):
    assert localtime.zone_at(lat, lon) == zone


def test_open_sea_uses_nautical_zone():
    # 30 degrees west lies in the nautical zone UTC-2, named Etc/GMT+2 (POSIX sign).
    resolved = resolve("2021-01-15", "12:00", (0.0, -30.0))

    assert resolved.zone_name == "Etc/GMT+2"
    assert resolved.utc == dt.datetime(2021, 1, 15, 14, 0, tzinfo=dt.UTC)
    assert "nautical zone Etc/GMT+2" in resolved.warnings[0]


def test_zones_come_from_pinned_tzdata():
    zone = localtime.load_zone("America/New_York")

    assert zone.key == "America/New_York"
    assert localtime.TZDATA_VERSION == tzdata.IANA_VERSION
    assert "Factory" not in localtime.zone_names()
    assert "America/New_York" in localtime.zone_names()


# --- field validation ------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        ({"date": ""}, "date", "date is missing"),
        ({"date": "15/01/1990"}, "date", "YYYY-MM-DD"),
        ({"date": "1990-1-15"}, "date", "YYYY-MM-DD"),
        ({"date": "0000-01-01"}, "date", "0001..9999"),
        ({"date": "1990-13-01"}, "date", "month outside 01..12"),
        ({"date": "2021-02-29"}, "date", "has 28 days in the gregorian calendar"),
        ({"date": "1990-04-31"}, "date", "has 30 days"),
        ({"time": ""}, "time", "time is missing"),
        ({"time": "24:00"}, "time", "00:00:00..23:59:59"),
        ({"time": "12:60"}, "time", "00:00:00..23:59:59"),
        ({"time": "12:30:60"}, "time", "00:00:00..23:59:59"),
        ({"time": "9:30"}, "time", "HH:MM or HH:MM:SS"),
        ({"time": "12:30:00.5"}, "time", "HH:MM or HH:MM:SS"),
        ({"tz": "america/new_york"}, "tz", "use 'America/New_York'"),
        ({"tz": "Mars/Olympus_Mons"}, "tz", "not an IANA time zone name"),
        ({"tz": "UTC+5"}, "tz", "utc_offset"),
        ({"tz": "../../etc/passwd"}, "tz", "not an IANA time zone name"),
        ({"tz": "Factory"}, "tz", "not an IANA time zone name"),
        ({"utc_offset": "+5:30"}, "utc_offset", "+HH:MM or -HH:MM"),
        ({"utc_offset": "05:30"}, "utc_offset", "+HH:MM or -HH:MM"),
        ({"utc_offset": "+14:30"}, "utc_offset", "-14:00..+14:00"),
        ({"utc_offset": "+10:60"}, "utc_offset", "-14:00..+14:00"),
        ({"fold": 2}, "fold", "0 or 1"),
        ({"fold": -1}, "fold", "0 or 1"),
        ({"calendar": "Julian"}, "calendar", "gregorian, julian"),
        ({"calendar": "hebrew"}, "calendar", "gregorian, julian"),
    ],
)
def test_invalid_field_is_named(fields, field, fragment):
    request = {"date": "1990-01-15", "time": "14:30", **fields}
    date, time = request.pop("date"), request.pop("time")

    with pytest.raises(localtime.InvalidInput) as caught:
        localtime.read_local_time(date, time, **request)

    errors = caught.value.errors
    assert [error.field for error in errors] == [field]
    assert fragment in errors[0].description


def test_date_outside_engine_years_names_range():
    with pytest.raises(localtime.InvalidInput) as caught:
        localtime.read_local_time("1650-01-01", "12:00", years=(1700, 2200))

    error = caught.value.errors[0]
    assert error.field == "date"
    assert "from 1700-01-01 to 2200-12-31" in error.description


def test_julian_range_checked_after_conversion():
    # Julian 1699-12-25 is Gregorian 1700-01-04, inside 1700..2200.
    reading = localtime.read_local_time("1699-12-25", "12:00", calendar="julian", years=(1700, 2200))

    assert reading.local.date() == dt.date(1700, 1, 4)


def test_every_bad_field_reported_together():
    with pytest.raises(localtime.InvalidInput) as caught:
        localtime.read_local_time("1990-2-30", "25:00", tz="Nowhere", utc_offset="+99:00", fold=3, calendar="mayan")

    fields = [error.field for error in caught.value.errors]
    assert fields == ["date", "time", "tz", "utc_offset", "fold", "calendar"]


def test_bad_calendar_still_checks_date_format():
    with pytest.raises(localtime.InvalidInput) as caught:
        localtime.read_local_time("yesterday", "12:00", calendar="mayan")

    assert [error.field for error in caught.value.errors] == ["date", "calendar"]


def test_format_utc_offset_negative_with_seconds():
    offset = -dt.timedelta(hours=4, minutes=56, seconds=2)

    assert localtime.format_utc_offset(offset) == "-04:56:02"
    assert localtime.format_utc_offset(dt.timedelta(hours=5, minutes=30)) == "+05:30"
    assert localtime.format_utc_offset(dt.timedelta(0)) == "+00:00"
