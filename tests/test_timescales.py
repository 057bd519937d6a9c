"""Tests of defrag.timescales: leap seconds, the 1960s UTC offsets, UT1 sources and the Delta T model.

Expected values come from published tables, not from the code under test:
- TAI - UTC: the IERS/USNO leap second table (10 s from 1972-01-01, 36 s from
  2015-07-01, 37 s from 2017-01-01) and USNO's tai-utc.dat for 1968-02-01 to
  1971-12-31: 4.2131700 s + (MJD - 39126) x 0.002592 s.
- Delta T: tests/data/reference/delta_t_usno_cosinekitty.csv (USNO values,
  see its header).

The dates of the UT1 sources assume the pinned astropy-iers-data
0.2026.11.16, which is measured to 2026-11-05 and predicted to 2027-11-12.
A newer pin moves the predicted and modelled dates.
"""

import csv
import pathlib

import numpy as np
import pytest

from defrag import timescales

SECOND = 1.0 / 86400.0  # in days
LEAP_2017_JD_UTC = 2457754.5  # 2017-01-01T00:00:00 UTC
USNO_DELTA_T = pathlib.Path(__file__).parent / "data" / "reference" / "delta_t_usno_cosinekitty.csv"


def jd(year: int, month: int, day: int) -> float:
    """Julian date at 0h of a Gregorian date."""
    a = (14 - month) // 12
    y, m = year + 4800 - a, month + 12 * a - 3
    return day + (153 * m + 2) // 5 + 365 * y + y // 4 - y // 100 + y // 400 - 32045 - 0.5


def usno_delta_t() -> dict[str, tuple[float, float]]:
    """USNO's Delta T by date: (seconds, one-sigma error in seconds, NaN where none is given)."""
    with open(USNO_DELTA_T, newline="", encoding="utf-8") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return {row["date"]: (float(row["delta_t_s"]), float(row["error_s"] or "nan")) for row in rows}


def tt_minus_utc(jd_utc: float) -> float:
    return float((timescales.from_utc(np.array([jd_utc])).jd_tt[0] - jd_utc) * 86400.0)


def test_tt_minus_utc_before_2017_leap():
    assert tt_minus_utc(LEAP_2017_JD_UTC - 0.5 * SECOND) == pytest.approx(68.184, abs=1e-4)


def test_tt_minus_utc_after_2017_leap():
    assert tt_minus_utc(LEAP_2017_JD_UTC + 0.5 * SECOND) == pytest.approx(69.184, abs=1e-4)


def test_leap_second_adds_one_second_of_tt():
    # 23:59:59.5 and 00:00:00.5 UTC are 2 s apart in TT because 23:59:60 lies between them.
    readings = timescales.from_utc(np.array([LEAP_2017_JD_UTC - 0.5 * SECOND, LEAP_2017_JD_UTC + 0.5 * SECOND]))
    assert (readings.jd_tt[1] - readings.jd_tt[0]) * 86400.0 == pytest.approx(2.0, abs=1e-4)


def test_tai_minus_utc_1972():
    assert timescales.tai_minus_utc_at(np.array([jd(1972, 1, 1)]))[0] == 10.0


def test_tai_minus_utc_2015_leap():
    assert timescales.tai_minus_utc_at(np.array([jd(2015, 7, 1)]))[0] == 36.0


def test_tai_minus_utc_drift_1968():
    # USNO tai-utc.dat: from 1968-02-01, 4.2131700 s + (MJD - 39126) x 0.002592 s.
    mjd = jd(1968, 6, 1) - 2400000.5
    expected = 4.2131700 + (mjd - 39126.0) * 0.002592
    assert timescales.tai_minus_utc_at(np.array([jd(1968, 6, 1)]))[0] == pytest.approx(expected, abs=1e-6)


def test_tai_minus_utc_zero_before_1960():
    assert timescales.tai_minus_utc_at(np.array([jd(1955, 6, 1)]))[0] == 0.0


@pytest.mark.parametrize("date", ["1962-01-01", "1972-01-01", "2000-01-01", "2010-01-01", "2019-01-01"])
def test_delta_t_matches_usno_measured(date):
    # C04 and USNO's table come from the same observations; 10 ms covers
    # the 5 ms they differ by at 1962 (the largest of these five dates).
    year, month, day = map(int, date.split("-"))
    delta_t = timescales.from_utc(np.array([jd(year, month, day)])).delta_t[0]
    assert delta_t == pytest.approx(usno_delta_t()[date][0], abs=0.01)


# Bounds of the Delta T model (Espenak and Meeus 2006) against USNO's values:
# at 1800 USNO gives a one-sigma error of 1.9 s, so 2 s; from 1900 the
# polynomials follow the historical values within about 0.1 s, so 0.2 s.
@pytest.mark.parametrize(("date", "bound_s"), [("1800-01-01", 2.0), ("1900-01-01", 0.2), ("1950-01-01", 0.2)])
def test_delta_t_model_matches_usno(date, bound_s):
    year, month, day = map(int, date.split("-"))
    delta_t = timescales.from_utc(np.array([jd(year, month, day)])).delta_t[0]
    assert delta_t == pytest.approx(usno_delta_t()[date][0], abs=bound_s)


def test_utc_before_1960_read_as_ut1():
    reading = timescales.from_utc(np.array([jd(1900, 1, 1)]))
    assert reading.jd_ut1[0] == jd(1900, 1, 1)


def test_utc_before_1960_has_no_ut1_minus_utc():
    assert np.isnan(timescales.from_utc(np.array([jd(1900, 1, 1)])).ut1_minus_utc[0])


def test_tt_before_1960_adds_model():
    jd_ut1 = np.array([jd(1900, 1, 1)])
    expected = jd_ut1 + timescales.delta_t_model(jd_ut1) / 86400.0
    assert timescales.from_utc(jd_ut1).jd_tt[0] == pytest.approx(expected[0], abs=1e-9)


@pytest.mark.parametrize(
    ("date", "source"),
    [
        ((1961, 6, 1), timescales.UT1_MODEL),
        ((1962, 6, 1), timescales.UT1_MEASURED),
        ((2026, 6, 1), timescales.UT1_MEASURED),
        ((2027, 6, 1), timescales.UT1_PREDICTED),
        ((2030, 1, 1), timescales.UT1_MODEL),
    ],
)
def test_ut1_source(date, source):
    assert timescales.from_utc(np.array([jd(*date)])).ut1_source == (source,)


def test_ut1_minus_utc_measured_is_small():
    # UTC is kept within 0.9 s of UT1 by leap seconds.
    value = timescales.from_utc(np.array([jd(2019, 7, 2)])).ut1_minus_utc[0]
    assert abs(value) < 0.9


def test_ut1_minus_utc_continuous_across_leap():
    # UT1 runs smoothly; UT1 - UTC jumps by +1 s when UTC repeats a second.
    readings = timescales.from_utc(np.array([LEAP_2017_JD_UTC - 0.5 * SECOND, LEAP_2017_JD_UTC + 0.5 * SECOND]))
    assert readings.ut1_minus_utc[1] - readings.ut1_minus_utc[0] == pytest.approx(1.0, abs=1e-3)


def test_delta_t_continuous_at_table_end():
    # Where the IERS predictions end, the model takes over without a step.
    last = timescales._earth_rotation().jd_utc[-1]
    readings = timescales.from_utc(np.array([last - 0.5, last + 0.5]))
    assert abs(readings.delta_t[1] - readings.delta_t[0]) < 0.01


ROUND_TRIP_DATES = [(1800, 6, 1), (1900, 1, 1), (1955, 6, 15), (1961, 6, 1), (1968, 6, 1), (1990, 1, 15), (2017, 1, 2), (2027, 6, 1), (2150, 1, 1)]


@pytest.mark.parametrize("date", ROUND_TRIP_DATES)
def test_round_trip_tt(date):
    from_utc = timescales.from_utc(np.array([jd(*date) + 0.3]))
    from_tt = timescales.from_tt(from_utc.jd_tt)
    assert (from_tt.jd_ut1[0] - from_utc.jd_ut1[0]) * 86400.0 == pytest.approx(0.0, abs=1e-4)


@pytest.mark.parametrize("date", ROUND_TRIP_DATES)
def test_round_trip_source(date):
    from_utc = timescales.from_utc(np.array([jd(*date) + 0.3]))
    assert timescales.from_tt(from_utc.jd_tt).ut1_source == from_utc.ut1_source


def test_round_trip_after_leap_second():
    from_utc = timescales.from_utc(np.array([LEAP_2017_JD_UTC + 0.5 * SECOND]))
    from_tt = timescales.from_tt(from_utc.jd_tt)
    assert (from_tt.jd_ut1[0] - from_utc.jd_ut1[0]) * 86400.0 == pytest.approx(0.0, abs=1e-4)
