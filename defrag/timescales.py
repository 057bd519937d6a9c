"""Time scales: UTC to TT, and UT1 for the Earth's rotation.

Every function takes and returns Julian dates as NumPy float64 arrays, so one
instant and a batch of instants take the same path. A float64 Julian date
resolves about 40 microseconds, which moves the Moon by 0.00002 arcseconds.

TT from UTC
    TT = UTC + (TAI - UTC) + 32.184 s. TAI - UTC comes from the IERS leap
    second table in the pinned `astropy-iers-data` package from 1972 on, and
    from ERFA's table of the 1961..1971 offsets and drift rates before that.
    Before 1960 there was no UTC: a time given as UTC is read as UT1 (the
    civil time of the day), and TT = UT1 + Delta T from the model below.

UT1
    Measured: the IERS EOP 20 C04 series (daily from 1962-01-01) and, after
    its last day, the measured part of IERS Bulletin A (finals2000A.all).
    Predicted: Bulletin A's predictions, about one year past its measured
    part, accurate to milliseconds for weeks and to about 0.1 s after a
    year. Values are interpolated linearly between the daily points; UT1-UTC
    is made continuous across each leap second first.
    Elsewhere, UT1 = TT - Delta T from the model in `delta_t_model`.

Delta T model (used before 1962 and after Bulletin A's predictions)
    1800..1961: the polynomials of Espenak and Meeus (NASA Five Millennium
    Canon of Solar Eclipses, 2006), a fit to the historical values from
    telescopic observations; they follow those values to within about 1 s
    before 1900 and 0.1 s after.
    After the predictions: the last predicted value, then growing as the
    long-term parabola -20 + 32 u^2 s, u = (year - 1820) / 100, of Morrison
    and Stephenson (2004). Nobody can predict the Earth's rotation decades
    ahead: expect an error of a few seconds by 2050 and a minute or more by
    2200.
"""

import dataclasses
import functools
import importlib.resources

import erfa
import numpy as np

SECONDS_PER_DAY = 86400.0
TT_MINUS_TAI = 32.184
MJD_ZERO = 2400000.5

# Where each UT1 value came from; the same codes go into the API response.
UT1_MEASURED = "iers_measured"
UT1_PREDICTED = "iers_predicted"
UT1_MODEL = "delta_t_model"

_SOURCES = (UT1_MEASURED, UT1_PREDICTED, UT1_MODEL)

# UTC with its leap seconds starts on 1972-01-01; from 1960 to 1971 it ran
# at offsets with drift rates that ERFA tabulates; before 1960 there is none.
_UTC_STARTS_JD = 2436934.5  # 1960-01-01
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
    """Daily UT1-UTC, with a flag for the predicted rows."""

    jd_utc: np.ndarray
    ut1_minus_tai: np.ndarray  # continuous across leap seconds, unlike UT1-UTC
    predicted: np.ndarray  # 1 where predicted, 0 where measured
    version: str


def data_version() -> str:
    """Name the IERS data in use, for the API response and the docs."""
    return _earth_rotation().version


@functools.cache
def last_measured_jd() -> float:
    """The UTC Julian date of the last measured (not predicted) UT1 value."""
    table = _earth_rotation()
    return float(table.jd_utc[table.predicted == 0][-1])


def from_utc(jd_utc: np.ndarray) -> Instants:
    """Convert Julian dates read on the UTC scale (UT before 1960) to TT and UT1."""
    jd_utc = np.asarray(jd_utc, dtype=float)
    table = _earth_rotation()
    tai_minus_utc = tai_minus_utc_at(jd_utc)
    jd_tt = jd_utc + (tai_minus_utc + TT_MINUS_TAI) / SECONDS_PER_DAY
    ut1_minus_utc, source = _ut1_minus_utc(jd_utc, tai_minus_utc, table)
    jd_ut1 = jd_utc + ut1_minus_utc / SECONDS_PER_DAY

    outside = np.isnan(ut1_minus_utc)
    if outside.any():
        # Before 1960 the civil time is UT1 itself and TT = UT1 + Delta T;
        # elsewhere outside the table, UT1 = TT - Delta T.
        no_utc = jd_utc < _UTC_STARTS_JD
        model = delta_t_model(jd_utc) / SECONDS_PER_DAY
        jd_tt = np.where(no_utc, jd_utc + model, jd_tt)
        jd_ut1 = np.where(no_utc, jd_utc, np.where(outside, jd_tt - model, jd_ut1))
        ut1_minus_utc = np.where(no_utc, np.nan, (jd_ut1 - jd_utc) * SECONDS_PER_DAY)

    delta_t = (jd_tt - jd_ut1) * SECONDS_PER_DAY
    return Instants(jd_tt, jd_ut1, delta_t, ut1_minus_utc, source)


def from_tt(jd_tt: np.ndarray) -> Instants:
    """Convert Julian dates on the TT scale, finding UT1 through the UTC they correspond to."""
    jd_tt = np.asarray(jd_tt, dtype=float)
    # TAI-UTC changes by whole seconds, so two rounds find the UTC reading.
    jd_utc = jd_tt - (37.0 + TT_MINUS_TAI) / SECONDS_PER_DAY
    for _ in range(2):
        jd_utc = jd_tt - (tai_minus_utc_at(jd_utc) + TT_MINUS_TAI) / SECONDS_PER_DAY
    from_table = from_utc(jd_utc)

    no_utc = jd_utc < _UTC_STARTS_JD
    model_ut1 = jd_tt - delta_t_model(jd_tt) / SECONDS_PER_DAY
    jd_ut1 = np.where(no_utc, model_ut1, from_table.jd_ut1)
    delta_t = (jd_tt - jd_ut1) * SECONDS_PER_DAY
    ut1_minus_utc = np.where(no_utc, np.nan, from_table.ut1_minus_utc)
    return Instants(jd_tt, jd_ut1, delta_t, ut1_minus_utc, from_table.ut1_source)


def tai_minus_utc_at(jd_utc: np.ndarray) -> np.ndarray:
    """Return TAI - UTC in seconds at each UTC Julian date; 0 before 1960, where UTC did not exist."""
    jd_utc = np.asarray(jd_utc, dtype=float)
    starts, offsets = _leap_seconds()
    result = offsets[np.maximum(np.searchsorted(starts, jd_utc, side="right") - 1, 0)]

    if jd_utc.min(initial=np.inf) < _LEAP_TABLE_STARTS_JD:
        early = (jd_utc >= _UTC_STARTS_JD) & (jd_utc < _LEAP_TABLE_STARTS_JD)
        result = np.where(jd_utc < _UTC_STARTS_JD, 0.0, result)
        if early.any():
            result[early] = _drifting_offsets(jd_utc[early])
    return result


def delta_t_model(jd: np.ndarray) -> np.ndarray:
    """Return the modelled Delta T = TT - UT1 in seconds (see the module docstring)."""
    jd = np.asarray(jd, dtype=float)
    year = 2000.0 + (jd - 2451544.5) / 365.2425
    table = _earth_rotation()
    # After the IERS table: its last value, then the long-term parabola's growth.
    result = _table_end_delta_t(table) + _long_term_parabola(year) - _long_term_parabola(_table_end_year(table))
    # Inside the IERS table (from 1962), Delta T is the measured value.
    inside = (jd >= table.jd_utc[0]) & (jd <= table.jd_utc[-1])
    if inside.any():
        result = np.where(inside, TT_MINUS_TAI - np.interp(jd, table.jd_utc, table.ut1_minus_tai), result)
    # Before it, only the polynomials whose years occur are evaluated.
    piece = np.searchsorted(_PIECE_STARTS, year, side="right") - 1
    for index in np.unique(piece[(piece >= 0) & (jd < table.jd_utc[0])]).tolist():
        origin, coefficients = _PIECES[index]
        result = np.where(piece == index, np.polynomial.polynomial.polyval(year - origin, coefficients), result)
    return result


# Espenak and Meeus (2006): from each start year to the next, the polynomial
# in (year - origin), with each piece's origin listed beside it. Only the
# years before the IERS series (1800..1961) use them.
_PIECE_STARTS = np.array([1800.0, 1860.0, 1900.0, 1920.0, 1941.0, 1961.0])
_PIECES = (
    (1800.0, (13.72, -0.332447, 0.0068612, 0.0041116, -0.00037436, 0.0000121272, -0.0000001699, 0.000000000875)),
    (1860.0, (7.62, 0.5737, -0.251754, 0.01680668, -0.0004473624, 1.0 / 233174.0)),
    (1900.0, (-2.79, 1.494119, -0.0598939, 0.0061966, -0.000197)),
    (1920.0, (21.20, 0.84493, -0.076100, 0.0020936)),
    (1950.0, (29.07, 0.407, -1.0 / 233.0, 1.0 / 2547.0)),
    (1975.0, (45.45, 1.067, -1.0 / 260.0, -1.0 / 718.0)),
)


def _table_end_year(table: "_EarthRotation") -> float:
    return 2000.0 + (float(table.jd_utc[-1]) - 2451544.5) / 365.2425


def _long_term_parabola(year: np.ndarray) -> np.ndarray:
    u = (year - 1820.0) / 100.0
    return -20.0 + 32.0 * u * u


def _table_end_delta_t(table: _EarthRotation) -> float:
    return TT_MINUS_TAI - float(table.ut1_minus_tai[-1])


def _ut1_minus_utc(jd_utc: np.ndarray, tai_minus_utc: np.ndarray, table: _EarthRotation) -> tuple[np.ndarray, tuple[str, ...]]:
    """Interpolate UT1-UTC linearly; NaN outside the table."""
    ut1_minus_tai = np.interp(jd_utc, table.jd_utc, table.ut1_minus_tai, left=np.nan, right=np.nan)
    value = ut1_minus_tai + tai_minus_utc
    # A value between a measured and a predicted day counts as predicted.
    index = np.minimum(np.searchsorted(table.jd_utc, jd_utc), len(table.jd_utc) - 1)
    codes = np.where(np.isnan(value), 2, table.predicted[index])
    return value, tuple(_SOURCES[code] for code in codes.tolist())


def _drifting_offsets(jd_utc: np.ndarray) -> np.ndarray:
    """TAI-UTC from 1960 to 1971, when UTC seconds were scaled to follow UT1 (ERFA's table)."""
    year, month, day, fraction = erfa.jd2cal(jd_utc, 0.0)
    return erfa.dat(year, month, day, fraction)


@functools.cache
def _leap_seconds() -> tuple[np.ndarray, np.ndarray]:
    """Start dates (UTC Julian dates) and TAI-UTC values from the IERS leap second file."""
    text = _iers_file("Leap_Second.dat")
    rows = [line.split() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    starts = np.array([float(row[0]) + MJD_ZERO for row in rows])
    offsets = np.array([float(row[4]) for row in rows])
    return starts, offsets


@functools.cache
def _earth_rotation() -> _EarthRotation:
    """Daily UT1-UTC: C04 where it exists, then Bulletin A (measured, then predicted)."""
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
    jd_utc = all_mjd + MJD_ZERO
    # UT1-TAI has no 1 s steps at leap seconds, so it can be interpolated.
    return _EarthRotation(
        jd_utc=jd_utc,
        ut1_minus_tai=all_dut1 - tai_minus_utc_at(jd_utc),
        predicted=all_predicted.astype(np.intp),
        version=_iers_version(),
    )


def _iers_version() -> str:
    import astropy_iers_data

    return f"astropy-iers-data {astropy_iers_data.__version__}"


def _iers_file(name: str) -> str:
    return importlib.resources.files("astropy_iers_data").joinpath("data", name).read_text(encoding="utf-8")
