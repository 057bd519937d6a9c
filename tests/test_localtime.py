"""Tests of defrag.localtime against published calendar and tz database facts.

Expected offsets follow the rules of the IANA tz database quoted at each
test, not values computed by the code under test. Older tests quote the source
files (northamerica, australasia). Tests of backzone history quote tzdata.zi
from Debian's tzdata 2026f-0+deb12u1, the source of the bundled zones, where
Zone, Rule and Link are abbreviated to Z, R and L and rule names are shortened. The 2021 and 2024 New York cases follow
"Rule US 2007 max - Mar Sun>=8 2:00 1:00 D" and "Rule US 2007 max - Nov
Sun>=1 2:00 0 S". Local mean time offsets are longitude / 15 hours, worked
out by hand at each test.
"""

import datetime as dt
import pathlib
import zipfile
import zoneinfo

import pytest
from timezonefinder import TimezoneFinder

from defrag import localtime

NEW_YORK = (40.7128, -74.0060)
LOS_ANGELES = (34.0522, -118.2437)
AMSTERDAM = (52.3676, 4.9041)
BOSTON = (42.3601, -71.0589)
SAINT_PETERSBURG = (59.9311, 30.3609)
APIA = (-13.8333, -171.75)


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


def test_default_reads_julian_before_reform():
    # 1500 is a leap year only in the Julian calendar. Julian 1500-02-29 is Gregorian 1500-03-10.
    reading = localtime.read_local_time("1500-02-29", "12:00")

    assert reading.local == dt.datetime(1500, 3, 10, 12, 0)
    assert len(reading.warnings) == 1
    assert "read in the Julian calendar" in reading.warnings[0]
    assert "calendar=gregorian" in reading.warnings[0]


def test_default_last_julian_day():
    reading = localtime.read_local_time("1582-10-04", "12:00", calendar="auto")

    assert reading.local == dt.datetime(1582, 10, 14, 12, 0)


def test_default_first_gregorian_day():
    reading = localtime.read_local_time("1582-10-15", "12:00")

    assert reading.local == dt.datetime(1582, 10, 15, 12, 0)
    assert reading.warnings == ()


def test_gregorian_calendar_is_proleptic():
    reading = localtime.read_local_time("1500-03-10", "12:00", calendar="gregorian")

    assert reading.local == dt.datetime(1500, 3, 10, 12, 0)
    assert reading.warnings == ()


def test_gregorian_rejects_julian_leap_day():
    with pytest.raises(localtime.InvalidInput) as caught:
        localtime.read_local_time("1500-02-29", "12:00", calendar="gregorian")

    error = caught.value.errors[0]
    assert error.field == "date"
    assert "has 28 days in the gregorian calendar" in error.description


@pytest.mark.parametrize("date", ["1582-10-05", "1582-10-10", "1582-10-14"])
def test_ten_missing_days_rejected(date):
    with pytest.raises(localtime.InvalidInput) as caught:
        localtime.read_local_time(date, "12:00")

    errors = caught.value.errors
    assert [error.field for error in errors] == ["date"]
    assert "does not exist in the default calendar" in errors[0].description
    assert "calendar=julian" in errors[0].description
    assert "calendar=gregorian" in errors[0].description


def test_missing_day_names_julian_reading():
    with pytest.raises(localtime.InvalidInput) as caught:
        localtime.read_local_time("1582-10-10", "12:00")

    assert "(Gregorian 1582-10-20)" in caught.value.errors[0].description


@pytest.mark.parametrize(("calendar", "expected"), [("julian", dt.date(1582, 10, 20)), ("gregorian", dt.date(1582, 10, 10))])
def test_missing_day_with_explicit_calendar(calendar, expected):
    reading = localtime.read_local_time("1582-10-10", "12:00", calendar=calendar)

    assert reading.local.date() == expected


def test_russia_1917_with_julian_calendar():
    # Russia kept the Julian calendar until 1918: the revolution of 25 October
    # 1917 fell on 7 November (Gregorian). "Z Europe/Moscow ..." with
    # "2:31:19 R %s 1919 Jul 1 0u", "R R 1917 o - Jul 1 23 1 MST" and
    # "R R 1917 o - D 28 0 0 MMT" give Moscow summer time, +03:31:19, that day.
    resolved = resolve("1917-10-25", "12:00", SAINT_PETERSBURG, calendar="julian")

    assert resolved.local == dt.datetime(1917, 11, 7, 12, 0)
    assert resolved.zone_name == "Europe/Moscow"
    assert localtime.format_utc_offset(resolved.utc_offset) == "+03:31:19"
    assert resolved.utc == dt.datetime(1917, 11, 7, 8, 28, 41, tzinfo=dt.UTC)
    assert resolved.warnings == ("date 1917-10-25 in the Julian calendar was read as 1917-11-07 in the Gregorian calendar",)


def test_russia_1917_default_is_gregorian():
    reading = localtime.read_local_time("1917-10-25", "12:00")

    assert reading.local == dt.datetime(1917, 10, 25, 12, 0)
    assert reading.warnings == ()


# --- missing time ----------------------------------------------------------


def test_missing_time_reads_noon():
    reading = localtime.read_local_time("2024-07-04", "")

    assert reading.local == dt.datetime(2024, 7, 4, 12, 0)
    assert reading.time_known is False
    assert reading.warnings == ("time is missing, so local noon (12:00:00) was used: send time for the exact moment",)


def test_missing_time_resolved_at_noon():
    resolved = resolve("2024-07-04", "")

    assert resolved.utc == dt.datetime(2024, 7, 4, 16, 0, tzinfo=dt.UTC)
    assert resolved.time_known is False


def test_given_time_is_known():
    resolved = resolve("2024-07-04", "09:15")

    assert resolved.time_known is True


def test_missing_time_noon_in_gap():
    # Apia skipped all of 2011-12-30, local noon included.
    with pytest.raises(localtime.NonexistentLocalTime) as caught:
        resolve("2011-12-30", "", tz="Pacific/Apia")

    assert caught.value.field == "time"
    assert "2011-12-30T12:00:00 does not exist" in caught.value.description


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


def test_new_york_summer_2024_is_daylight_time():
    resolved = resolve("2024-07-04", "12:00")

    assert localtime.format_utc_offset(resolved.utc_offset) == "-04:00"
    assert resolved.utc == dt.datetime(2024, 7, 4, 16, 0, tzinfo=dt.UTC)


def test_new_york_winter_2024_is_standard_time():
    resolved = resolve("2024-01-15", "12:00")

    assert localtime.format_utc_offset(resolved.utc_offset) == "-05:00"


def test_new_york_local_mean_time_before_1883():
    # tz line "Zone America/New_York -4:56:02 - LMT 1883 Nov 18 12:03:58" (local mean time).
    # An explicit tz keeps the zone's own rules, so the reference city's LMT applies.
    resolved = resolve("1800-06-01", "12:00", tz="America/New_York")

    assert localtime.format_utc_offset(resolved.utc_offset) == "-04:56:02"
    assert resolved.utc == dt.datetime(1800, 6, 1, 16, 56, 2, tzinfo=dt.UTC)
    assert resolved.local_mean_time is False
    assert len(resolved.warnings) == 1
    assert "local mean time of the zone's reference city (-04:56:02)" in resolved.warnings[0]
    assert "leave tz empty" in resolved.warnings[0]


# --- backzone: pre-1970 history of zones that are links without it --------


def test_amsterdam_1930_winter_is_amt():
    # "Z Europe/Amsterdam 0:19:32 - LMT 1835" then "0:19:32 N %s 1937 Jul"
    # (Amsterdam Mean Time), with "R N 1926 1931 - May 15 2s 1 NST" and
    # "R N 1922 1936 - O Su>=2 2s 0 AMT".
    resolved = resolve("1930-01-15", "12:00", AMSTERDAM)

    assert resolved.zone_name == "Europe/Amsterdam"
    assert localtime.format_utc_offset(resolved.utc_offset) == "+00:19:32"
    assert resolved.utc == dt.datetime(1930, 1, 15, 11, 40, 28, tzinfo=dt.UTC)
    assert resolved.local_mean_time is False
    assert resolved.warnings == ()


def test_amsterdam_1930_summer_is_nst():
    resolved = resolve("1930-07-15", "12:00", AMSTERDAM)

    assert localtime.format_utc_offset(resolved.utc_offset) == "+01:19:32"
    assert resolved.utc == dt.datetime(1930, 7, 15, 10, 40, 28, tzinfo=dt.UTC)


def test_reykjavik_1950_winter_is_minus_1():
    # "Z Atlantic/Reykjavik -1:28 - LMT 1908" then "-1 w -01/+00 1968 Ap 7 1s".
    # Without backzone, Reykjavik is a link to Africa/Abidjan (+00:00).
    resolved = resolve("1950-01-15", "12:00", tz="Atlantic/Reykjavik")

    assert localtime.format_utc_offset(resolved.utc_offset) == "-01:00"
    assert resolved.utc == dt.datetime(1950, 1, 15, 13, 0, tzinfo=dt.UTC)


def test_copenhagen_1948_summer_time_ended_early():
    # "R D 1948 o - Au 8 2s 0 -": Denmark was back on +01:00 by September.
    # Europe/Berlin, its link target without backzone, kept summer time until
    # 3 October ("R DE 1947 1949 - O Su>=1 2s 0 -").
    resolved = resolve("1948-09-15", "12:00", tz="Europe/Copenhagen")

    assert localtime.format_utc_offset(resolved.utc_offset) == "+01:00"


def test_bundle_is_independent_of_host_tzpath():
    # With an empty search path, zoneinfo.ZoneInfo(key) would fall back to the
    # PyPI tzdata package, where Amsterdam is a link to Brussels (+00:00 in 1930).
    zoneinfo.reset_tzpath(to=[])
    try:
        localtime._load_known_zone.cache_clear()
        zone = localtime.load_zone("Europe/Amsterdam")
    finally:
        zoneinfo.reset_tzpath()

    assert dt.datetime(1930, 1, 15, 12, tzinfo=zone).utcoffset() == dt.timedelta(minutes=19, seconds=32)


# --- local mean time at the place's longitude ------------------------------


def test_boston_1850_uses_place_mean_time():
    # 71.0589 degrees west * 4 minutes per degree = 4 h 44 min 14.1 s behind UTC.
    resolved = resolve("1850-06-01", "12:00", BOSTON)

    assert resolved.zone_name == "America/New_York"
    assert localtime.format_utc_offset(resolved.utc_offset) == "-04:44:14"
    assert resolved.utc == dt.datetime(1850, 6, 1, 16, 44, 14, tzinfo=dt.UTC)
    assert resolved.local_mean_time is True


def test_place_mean_time_warning():
    resolved = resolve("1850-06-01", "12:00", BOSTON)

    assert len(resolved.warnings) == 1
    assert "local mean time at longitude -71.0589 (-04:44:14) was used" in resolved.warnings[0]
    assert "tz=America/New_York" in resolved.warnings[0]


def test_utc_offset_overrides_mean_time():
    resolved = resolve("1850-06-01", "12:00", BOSTON, utc_offset="-05:00")

    assert resolved.utc == dt.datetime(1850, 6, 1, 17, 0, tzinfo=dt.UTC)
    assert resolved.local_mean_time is False
    assert resolved.warnings == ()


def test_amsterdam_before_1835_uses_place_mean_time():
    # Amsterdam's zone LMT is +00:19:32, but 4.9041 degrees east * 4 min = 19 min 36.98 s.
    resolved = resolve("1820-06-01", "12:00", AMSTERDAM)

    assert localtime.format_utc_offset(resolved.utc_offset) == "+00:19:37"
    assert resolved.local_mean_time is True


def test_mean_time_keeps_zone_date_line_side():
    # "Z Pacific/Apia 12:33:4 - LMT 1892 Jul 5": Samoa kept the Asian date
    # until then. 171.75 degrees west is -11:27:00, so +24 h gives +12:33:00.
    resolved = resolve("1880-01-01", "12:00", APIA)

    assert localtime.format_utc_offset(resolved.utc_offset) == "+12:33"
    assert resolved.utc == dt.datetime(1879, 12, 31, 23, 27, tzinfo=dt.UTC)


def test_mean_time_after_date_line_move():
    # "-11:26:56 - LMT 1911": from 1892, Apia kept the American date.
    resolved = resolve("1900-01-01", "12:00", APIA)

    assert localtime.format_utc_offset(resolved.utc_offset) == "-11:27"
    assert resolved.utc == dt.datetime(1900, 1, 1, 23, 27, tzinfo=dt.UTC)


@pytest.mark.parametrize(("lon", "seconds"), [(0.0, 0), (15.0, 3600), (-74.006, -17761), (180.0, 43200)])
def test_mean_time_offset(lon, seconds):
    assert localtime.mean_time_offset(lon) == dt.timedelta(seconds=seconds)


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


def test_zones_come_from_bundle():
    zone = localtime.load_zone("America/New_York")

    assert zone.key == "America/New_York"
    assert "Factory" not in localtime.zone_names()
    assert "America/New_York" in localtime.zone_names()


def test_bundle_version_matches_module():
    bundle = pathlib.Path(localtime.__file__).parent / "data" / "tzdata-backzone.zip"
    with zipfile.ZipFile(bundle) as archive:
        version = archive.read("VERSION").decode().strip()
        source = archive.read("SOURCE").decode()

    assert version == localtime.TZDATA_VERSION
    assert "with backzone" in source


def test_link_name_keeps_its_key():
    # Atlantic/St_Helena is a link to Africa/Abidjan even with backzone.
    zone = localtime.load_zone("Atlantic/St_Helena")

    assert zone.key == "Atlantic/St_Helena"


def test_every_timezonefinder_name_loads():
    names = sorted(TimezoneFinder(in_memory=False).timezone_names)
    unknown = [name for name in names if name not in localtime.zone_names()]

    assert unknown == []
    for name in names:
        assert localtime.load_zone(name).key == name


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
        ({"calendar": "Julian"}, "calendar", "auto, gregorian, julian"),
        ({"calendar": "hebrew"}, "calendar", "auto, gregorian, julian"),
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


def test_long_rejected_value_is_cut():
    with pytest.raises(localtime.InvalidInput) as raised:
        localtime.read_local_time("2020-01-01", "12:00", tz="A" * 5000)

    assert len(raised.value.errors[0].description) < 400
