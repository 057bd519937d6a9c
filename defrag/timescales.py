"""Time scales: UTC to TT, and UT1 for the Earth's rotation.

The public conversions take and return Julian dates as NumPy float64 arrays
(utc_from_tt takes and returns one float), so one instant and a batch of
instants take the same path. A float64 Julian date
resolves about 40 microseconds, which moves the Moon by 0.00002 arcseconds.

TT from UTC
    TT = UTC + (TAI - UTC) + 32.184 s. TAI - UTC comes from the IERS leap
    second table in the pinned `astropy-iers-data` package from 1972 on, and
    from ERFA's table of the 1960..1971 offsets and drift rates before that.
    Before 1960 there was no UTC: a time given as UTC is read as UT1 (the
    civil time of the day), and TT = UT1 + Delta T from the model below.

UT1
    Measured: the IERS EOP 20 C04 series (daily from 1962-01-01) and, after
    its last day, the measured part of IERS Bulletin A (finals2000A.all).
    Predicted: Bulletin A's predictions, about one year past its measured
    part, accurate to milliseconds for weeks and to about 0.1 s after a
    year. Values are interpolated linearly between the daily points, after
    UT1-UTC is made continuous across each leap second.
    Elsewhere, UT1 = TT - Delta T from the model in `delta_t_model`.

Delta T model (used before 1962 and after Bulletin A's predictions)
    1800..1961: the polynomials of Espenak and Meeus (NASA Five Millennium
    Canon of Solar Eclipses, 2006), a fit to the historical values from
    telescopic observations. They follow those values to within about 1 s
    before 1900 and 0.1 s after. The 1800 polynomial also serves the last
    days of 1799 that DE423 covers.
    After the predictions: the last predicted value, then growing as the
    long-term parabola -20 + 32 u^2 s, u = (year - 1820) / 100, of Morrison
    and Stephenson (2004). The Earth's rotation cannot be predicted decades
    ahead: the model gives about 100 s in 2050 while Delta T has stayed
    near 69 s since 2017, so expect errors of tens of seconds by 2050 and
    minutes by 2200.
"""

import bisect
import dataclasses
import functools
import importlib.resources
import math

import erfa
import numpy as np

SECONDS_PER_DAY = 86400.0
TT_MINUS_TAI = 32.184
MJD_ZERO = 2400000.5

# Source codes of each UT1 value, also sent in the API response.
UT1_MEASURED = "iers_measured"
UT1_PREDICTED = "iers_predicted"
UT1_MODEL = "delta_t_model"

# UTC with its leap seconds starts on 1972-01-01. From 1960 to 1971 it ran
# at offsets with drift rates that ERFA tabulates, and before 1960 there is none.
UTC_STARTS_JD = 2436934.5  # 1960-01-01
_LEAP_TABLE_STARTS_JD = 2441317.5  # 1972-01-01


@dataclasses.dataclass(frozen=True)
class Instants:
    """A batch of instants on the time scales the engine needs."""

    jd_tt: np.ndarray
    jd_ut1: np.ndarray
    delta_t: np.ndarray  # TT - UT1 in seconds
    ut1_minus_utc: np.ndarray  # seconds; NaN where the input had no UTC
    ut1_source: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class _EarthRotation:
    """Daily UT1-TAI, with a flag for the predicted rows, as lists for bisect."""

    jd_utc: list[float]
    ut1_minus_tai: list[float]  # continuous across leap seconds, unlike UT1-UTC
    predicted: list[bool]
    version: str


def data_version() -> str:
    """Name the IERS data in use, for the API response and the docs."""
    return _earth_rotation().version


@functools.cache
def last_measured_jd() -> float:
    """Return the UTC Julian date of the last measured (not predicted) UT1 value."""
    table = _earth_rotation()
    return max(jd for jd, predicted in zip(table.jd_utc, table.predicted, strict=True) if not predicted)


# Each conversion works on one instant in plain Python, which costs a few
# microseconds, far less than the NumPy calls a one-element array would
# need. A batch maps it over its instants.


def from_utc(jd_utc: np.ndarray) -> Instants:
    """Convert Julian dates read on the UTC scale (UT before 1960) to TT and UT1."""
    return _instants([_from_utc(jd) for jd in np.asarray(jd_utc, dtype=float).reshape(-1).tolist()])


def from_tt(jd_tt: np.ndarray) -> Instants:
    """Convert Julian dates on the TT scale, finding UT1 through the UTC they correspond to."""
    return _instants([_from_tt(jd) for jd in np.asarray(jd_tt, dtype=float).reshape(-1).tolist()])


def tai_minus_utc_at(jd_utc: np.ndarray) -> np.ndarray:
    """Return TAI - UTC in seconds at each UTC Julian date, or 0 before 1960, when UTC did not exist."""
    return np.array([_tai_minus_utc(jd) for jd in np.asarray(jd_utc, dtype=float).reshape(-1).tolist()])


def delta_t_model(jd: np.ndarray) -> np.ndarray:
    """Return the modelled Delta T = TT - UT1 in seconds (see the module docstring)."""
    return np.array([_delta_t_model(value) for value in np.asarray(jd, dtype=float).reshape(-1).tolist()])


def _instants(rows: list[tuple[float, float, float, str]]) -> Instants:
    jd_tt = np.array([row[0] for row in rows])
    jd_ut1 = np.array([row[1] for row in rows])
    return Instants(
        jd_tt=jd_tt,
        jd_ut1=jd_ut1,
        delta_t=(jd_tt - jd_ut1) * SECONDS_PER_DAY,
        ut1_minus_utc=np.array([row[2] for row in rows]),
        ut1_source=tuple(row[3] for row in rows),
    )


def _from_utc(jd_utc: float) -> tuple[float, float, float, str]:
    """Convert one UTC Julian date to (jd_tt, jd_ut1, UT1-UTC in seconds or NaN, UT1 source)."""
    if jd_utc < UTC_STARTS_JD:
        # Before 1960 the civil time is UT1 itself, and TT = UT1 + Delta T.
        return jd_utc + _delta_t_model(jd_utc) / SECONDS_PER_DAY, jd_utc, math.nan, UT1_MODEL
    tai_minus_utc = _tai_minus_utc(jd_utc)
    jd_tt = jd_utc + (tai_minus_utc + TT_MINUS_TAI) / SECONDS_PER_DAY
    found = _ut1_minus_tai(jd_utc)
    if found is None:
        jd_ut1 = jd_tt - _delta_t_model(jd_utc) / SECONDS_PER_DAY
        source = UT1_MODEL
    else:
        ut1_minus_tai, predicted = found
        jd_ut1 = jd_utc + (ut1_minus_tai + tai_minus_utc) / SECONDS_PER_DAY
        source = UT1_PREDICTED if predicted else UT1_MEASURED
    return jd_tt, jd_ut1, (jd_ut1 - jd_utc) * SECONDS_PER_DAY, source


def utc_from_tt(jd_tt: float) -> float:
    """Convert a TT Julian date to UTC (to UT1 before 1960, through the Delta T model)."""
    # TAI-UTC changes in steps (and before 1972 drifts by under 3 ms a day),
    # so two rounds from a 37 s first guess find the UTC reading.
    jd_utc = jd_tt - (37.0 + TT_MINUS_TAI) / SECONDS_PER_DAY
    for _ in range(2):
        jd_utc = jd_tt - (_tai_minus_utc(jd_utc) + TT_MINUS_TAI) / SECONDS_PER_DAY
    if jd_utc < UTC_STARTS_JD:
        return jd_tt - _delta_t_model(jd_tt) / SECONDS_PER_DAY
    return jd_utc


def _from_tt(jd_tt: float) -> tuple[float, float, float, str]:
    jd_utc = utc_from_tt(jd_tt)
    if jd_utc < UTC_STARTS_JD:
        return jd_tt, jd_tt - _delta_t_model(jd_tt) / SECONDS_PER_DAY, math.nan, UT1_MODEL
    _tt, jd_ut1, ut1_minus_utc, source = _from_utc(jd_utc)
    return jd_tt, jd_ut1, ut1_minus_utc, source


def _tai_minus_utc(jd_utc: float) -> float:
    if jd_utc < UTC_STARTS_JD:
        return 0.0
    if jd_utc < _LEAP_TABLE_STARTS_JD:
        return _drifting_offset(jd_utc)
    starts, offsets = _leap_seconds()
    return offsets[max(bisect.bisect_right(starts, jd_utc) - 1, 0)]


def _ut1_minus_tai(jd_utc: float) -> tuple[float, bool] | None:
    """Interpolate UT1-TAI linearly between the daily values and flag predicted ones. Returns None outside the table."""
    table = _earth_rotation()
    days = table.jd_utc
    if not days[0] <= jd_utc <= days[-1]:
        return None
    index = min(bisect.bisect_right(days, jd_utc), len(days) - 1)
    before = index - 1
    fraction = (jd_utc - days[before]) / (days[index] - days[before])
    values = table.ut1_minus_tai
    # A value between a measured and a predicted day counts as predicted.
    return values[before] + (values[index] - values[before]) * fraction, table.predicted[index]


def _delta_t_model(jd: float) -> float:
    year = 2000.0 + (jd - 2451544.5) / 365.2425
    table = _earth_rotation()
    if jd > table.jd_utc[-1]:
        # After the IERS table: its last value, then the long-term parabola's growth.
        end_year = 2000.0 + (table.jd_utc[-1] - 2451544.5) / 365.2425
        return TT_MINUS_TAI - table.ut1_minus_tai[-1] + _long_term_parabola(year) - _long_term_parabola(end_year)
    found = _ut1_minus_tai(jd)
    if found is not None:
        # Inside the IERS table (from 1962), Delta T comes from its measured or predicted UT1.
        return TT_MINUS_TAI - found[0]
    # Dates before 1800 (DE423 starts on 1799-12-16) extend the first piece,
    # which avoids a 32 s jump to the long-term parabola.
    piece = max(bisect.bisect_right(_PIECE_STARTS, year) - 1, 0)
    origin, coefficients = _PIECES[piece]
    t = year - origin
    value = 0.0
    for coefficient in reversed(coefficients):
        value = value * t + coefficient
    return value


# Espenak and Meeus (2006): from each start year to the next, the polynomial
# in (year - origin), with each piece's origin listed beside it. Only the
# years before the IERS series (1800..1961, and the last days of 1799) use them.
_PIECE_STARTS = [1800.0, 1860.0, 1900.0, 1920.0, 1941.0, 1961.0]
_PIECES = (
    (1800.0, (13.72, -0.332447, 0.0068612, 0.0041116, -0.00037436, 0.0000121272, -0.0000001699, 0.000000000875)),
    (1860.0, (7.62, 0.5737, -0.251754, 0.01680668, -0.0004473624, 1.0 / 233174.0)),
    (1900.0, (-2.79, 1.494119, -0.0598939, 0.0061966, -0.000197)),
    (1920.0, (21.20, 0.84493, -0.076100, 0.0020936)),
    (1950.0, (29.07, 0.407, -1.0 / 233.0, 1.0 / 2547.0)),
    (1975.0, (45.45, 1.067, -1.0 / 260.0, -1.0 / 718.0)),
)


def _long_term_parabola(year: float) -> float:
    u = (year - 1820.0) / 100.0
    return -20.0 + 32.0 * u * u


def _drifting_offset(jd_utc: float) -> float:
    """Return TAI-UTC from 1960 to 1971, when UTC seconds were scaled to follow UT1 (ERFA's table)."""
    year, month, day, fraction = erfa.jd2cal(jd_utc, 0.0)
    return float(erfa.dat(year, month, day, fraction))


@functools.cache
def _leap_seconds() -> tuple[list[float], list[float]]:
    """Read the start dates (UTC Julian dates) and TAI-UTC values of the IERS leap second file."""
    text = _iers_file("Leap_Second.dat")
    rows = [line.split() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [float(row[0]) + MJD_ZERO for row in rows], [float(row[4]) for row in rows]


@functools.cache
def _earth_rotation() -> _EarthRotation:
    """Load daily UT1-UTC: C04 where it exists, then Bulletin A (measured, then predicted)."""
    c04 = np.array(
        [line.split()[4:8] for line in _iers_file("eopc04.1962-now").splitlines() if line[:1].isdigit()],
        dtype=float,
    )
    c04_mjd, c04_dut1 = c04[:, 0], c04[:, 3]

    mjd, dut1, predicted = [], [], []
    for line in _iers_file("finals2000A.all").splitlines():
        flag, value = line[57:58], line[58:68].strip()
        if flag not in ("I", "P") or not value:
            continue
        day = float(line[7:15])
        if day <= c04_mjd[-1]:
            continue
        mjd.append(day)
        dut1.append(float(value))
        predicted.append(flag == "P")

    all_mjd = np.concatenate([c04_mjd, mjd])
    all_dut1 = np.concatenate([c04_dut1, dut1])
    all_predicted = np.concatenate([np.zeros(len(c04_mjd), dtype=bool), np.array(predicted, dtype=bool)])
    jd_utc = (all_mjd + MJD_ZERO).tolist()
    # UT1-TAI has no 1 s steps at leap seconds, so it can be interpolated.
    return _EarthRotation(
        jd_utc=jd_utc,
        ut1_minus_tai=[dut1 - _tai_minus_utc(jd) for dut1, jd in zip(all_dut1.tolist(), jd_utc, strict=True)],
        predicted=all_predicted.tolist(),
        version=_iers_version(),
    )


def _iers_version() -> str:
    import astropy_iers_data

    return f"astropy-iers-data {astropy_iers_data.__version__}"


def _iers_file(name: str) -> str:
    return importlib.resources.files("astropy_iers_data").joinpath("data", name).read_text(encoding="utf-8")
