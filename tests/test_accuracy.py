"""Accuracy of the position engine against JPL Horizons tables in tests/data/reference.

Each CSV file there names its source, the Horizons settings and the time scale
in its header. Every error below is an angle on the sphere: the haversine
separation between the engine's direction and Horizons', so a longitude
difference counts as dlon * cos(lat) and wraps across 0/360, and an azimuth
difference counts as daz * cos(altitude).

Bounds, by what the reference time fixes:
- TT, or UTC with measured UT1 (1962 to the end of the IERS C04 and Bulletin A
  data): 1 arcsecond, the accuracy the API states.
- UT1 before 1962 (Horizons reads its "UT" as UT1 there): the engine adds its
  modelled Delta T to reach TT. So the bound is 1 arcsecond plus the shift
  that a Delta T error of DELTA_T_ALLOWANCE_S causes, found by moving TT by
  that amount. The Moon moves about 0.55 arcsec per second of time.
- UTC after the IERS data: geocentric positions need only TT (both sides keep
  the last leap second), so 1 arcsecond. Topocentric positions also need UT1,
  which nobody can measure ahead of time. They are checked twice: with the
  UT1-UTC that Horizons held (the conventions, 1 arcsecond), and as the engine
  serves them, within 1 arcsecond plus the shift that the difference between
  the two Delta T assumptions causes.

Rows that no bound covers are skipped with a reason: dates outside DE423,
astrometric ICRF rows (the engine returns only apparent places) and refracted
rows below MIN_REFRACTED_ALTITUDE_DEG.

`python tests/test_accuracy.py` prints the max and RMS error per file, kind,
body and era; docs/accuracy.md quotes its output.
"""

import csv
import dataclasses
import functools
import math
import pathlib
from collections import defaultdict

import erfa
import numpy as np
import pytest

from defrag import chart, ephemeris, timescales

REFERENCE = pathlib.Path(__file__).parent / "data" / "reference"
FILES = {
    "panchang": "horizons_obseclon_geocentric_tt_panchang.csv",
    "astrology_remastered": "horizons_obseclon_geocentric_ut_astrology_remastered.csv",
    "cosinekitty": "horizons_topocentric_cosinekitty_astronomy.csv",
    "astropy": "horizons_apparent_radec_astropy_tests.csv",
}

CLAIM_ARCSEC = 1.0
# Refraction near the horizon changes with the weather by far more than 1
# arcsecond, so refracted rows count only above this altitude (Horizons' value).
MIN_REFRACTED_ALTITUDE_DEG = 5.0
# Horizons reads times before 1962 as UT1 and later times as UTC.
UTC_FROM_JD = 2437665.5  # 1962-01-01
# Expected error of the Delta T difference between the engine's model and
# Horizons', in seconds. Before 1900: USNO's one-sigma error of Delta T is
# 1.9 s at 1800, and the Delta T that fits Horizons' 1800 Moon row is 3.9 s
# from the engine's model (see delta_t_fitted_to_moon). 1900-1961: USNO's
# error is under 0.1 s, and the fitted Delta T is 0.8 s from the model at 1955.
DELTA_T_ALLOWANCE_S = ((2415020.5, 5.0), (UTC_FROM_JD, 1.0))  # (valid before JD, seconds)
# For dates past its EOP predictions, Horizons keeps TT - UTC = 69.184 s and
# keeps UT1 - UTC constant. The cosinekitty tables (EOP file predicted to
# 2019-07-02) fit best with -0.18 s, and C04 has -0.174 s on 2019-07-02.
HORIZONS_FUTURE_TT_MINUS_UTC_S = 69.184
HORIZONS_FUTURE_UT1_MINUS_UTC_S = -0.18

BODY_INDEX = {name: index for index, name in enumerate(chart.BODIES)}
UNSUPPORTED_KINDS = {"astrometric_topocentric_icrf": "astrometric ICRF: the engine returns apparent places only"}
OUTSIDE_KERNEL = "outside DE423 (1800-01-01 to 2199-12-31)"
REFRACTED_NEAR_HORIZON = f"refracted, below {MIN_REFRACTED_ALTITUDE_DEG} degrees altitude"

# Rows that break the stated bound, kept visible as strict xfails so that a
# fix turns them into failures to remove from this list.
KNOWN_FAILURES = {
    ("astrology_remastered", "apparent_geocentric_ecliptic_of_date", "Pluto", "1800-01-01T00:00"): (
        "DE423's Pluto in 1800 is 1.3 arcsec from Horizons' DE441, and Delta T cannot explain it"
    ),
}


@dataclasses.dataclass(frozen=True)
class Row:
    """One reference value: a direction that Horizons printed for one body and instant."""

    file: str
    kind: str
    body: str
    time_scale: str
    time: str
    jd: float
    place: chart.Place | None
    expected: tuple[float, float]  # degrees: (longitude, latitude), (RA, Dec) or (azimuth, altitude)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.file, self.kind, self.body, self.time)

    @property
    def era(self) -> str:
        """The time regime that sets the bound: tt, ut1-before-1962, utc-measured or utc-beyond-iers."""
        if self.time_scale == "TT":
            return "tt"
        if self.time_scale == "UT1":
            return "ut1-before-1962"
        return "utc-measured" if _ut1_source(self.jd) == timescales.UT1_MEASURED else "utc-beyond-iers"


@functools.cache
def _ut1_source(jd_utc: float) -> str:
    return timescales.from_utc(np.array([jd_utc])).ut1_source[0]


@dataclasses.dataclass(frozen=True)
class Result:
    """The engine's error on one row, and the bound it must meet."""

    row: Row
    error_arcsec: float
    bound_arcsec: float
    skip_reason: str = ""


def read_rows(short_name: str) -> list[Row]:
    """Read one reference file, skipping its # header."""
    with open(REFERENCE / FILES[short_name], newline="", encoding="utf-8") as handle:
        records = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    return [_row(short_name, record) for record in records]


def _row(short_name: str, record: dict[str, str]) -> Row:
    place = None
    if record["site_lat_deg"]:
        place = chart.Place(float(record["site_lat_deg"]), float(record["site_lon_deg"]), float(record["site_height_m"]))
    kind = record["kind"]
    if kind.endswith("azimuth_altitude"):
        columns = ("azimuth_deg", "altitude_deg")
    elif kind.endswith("ecliptic_of_date"):
        columns = ("ecl_lon_deg", "ecl_lat_deg")
    else:
        columns = ("ra_deg", "dec_deg")
    expected = (float(record[columns[0]]), float(record[columns[1]]))
    return Row(short_name, kind, record["body"], record["time_scale"], record["time"], float(record["jd"]), place, expected)


def separation_arcsec(lon1, lat1, lon2, lat2):
    """Great-circle angle between (longitude, latitude) directions in degrees, in arcseconds (haversine)."""
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    half_chord = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return np.degrees(2.0 * np.arcsin(np.sqrt(half_chord))) * 3600.0


def instants(rows: list[Row], *, future_ut1_minus_utc: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """TT and UT1 Julian dates for each row, read on its own time scale.

    UT1 rows get TT = UT1 + the engine's Delta T model, as timescales.from_utc
    does for dates before 1960. With future_ut1_minus_utc, UTC rows past the
    IERS data take UT1 = UTC + that value in place of the engine's model.
    """
    jd = np.array([row.jd for row in rows])
    scale = np.array([row.time_scale for row in rows])
    from_tt = timescales.from_tt(jd)
    from_utc = timescales.from_utc(jd)
    from_ut1_tt = jd + timescales.delta_t_model(jd) / timescales.SECONDS_PER_DAY

    jd_tt = np.select([scale == "TT", scale == "UTC"], [from_tt.jd_tt, from_utc.jd_tt], from_ut1_tt)
    jd_ut1 = np.select([scale == "TT", scale == "UTC"], [from_tt.jd_ut1, from_utc.jd_ut1], jd)
    if future_ut1_minus_utc is not None:
        future = (scale == "UTC") & (np.array(from_utc.ut1_source) != timescales.UT1_MEASURED)
        jd_ut1 = np.where(future, jd + future_ut1_minus_utc / timescales.SECONDS_PER_DAY, jd_ut1)
    return jd_tt, jd_ut1


def measure(rows: list[Row], jd_tt: np.ndarray, jd_ut1: np.ndarray) -> np.ndarray:
    """The engine's value of each row's quantity, (N, 2) degrees, computed once per site and refraction setting."""
    values = np.full((len(rows), 2), np.nan)
    groups = defaultdict(list)
    for index, row in enumerate(rows):
        groups[(row.place, row.kind.startswith("refracted"))].append(index)

    for (place, refraction), indices in groups.items():
        indices = np.array(indices)
        positions = chart.compute(jd_tt[indices], jd_ut1[indices], place or chart.Place(0.0, 0.0, 0.0), refraction=refraction)
        for n, index in enumerate(indices):
            values[index] = _quantity(rows[index], positions, n)
    return values


def _quantity(row: Row, positions: chart.Positions, n: int) -> tuple[float, float]:
    body = BODY_INDEX[row.body.lower()]
    if row.kind == "apparent_geocentric_ecliptic_of_date":
        return positions.longitude[n, body], positions.latitude[n, body]
    if row.kind == "apparent_geocentric_of_date":
        return _ecliptic_to_equator(positions.longitude[n, body], positions.latitude[n, body], positions.true_obliquity[n])
    if row.kind == "apparent_topocentric_of_date":
        return positions.ra[n, body], positions.dec[n, body]
    if row.kind in ("airless_azimuth_altitude", "refracted_azimuth_altitude"):
        return positions.azimuth[n, body], positions.altitude[n, body]
    if row.kind == "refracted_apparent_topocentric_of_date":
        # The engine refracts only the altitude. Horizons' r-appar RA/Dec is
        # the refracted azimuth and altitude turned back to the equator of
        # date with the local apparent sidereal time, so do the same.
        hour_angle, dec = erfa.ae2hd(math.radians(positions.azimuth[n, body]), math.radians(positions.altitude[n, body]), math.radians(row.place.lat))
        return (positions.local_sidereal_time[n] - math.degrees(hour_angle)) % 360.0, math.degrees(dec)
    raise ValueError(f"unknown kind {row.kind!r} in {row.file}: add it to _quantity or UNSUPPORTED_KINDS")


def _ecliptic_to_equator(longitude: float, latitude: float, obliquity: float) -> tuple[float, float]:
    """Turn an ecliptic-of-date direction into RA/Dec of date about the x axis by the true obliquity (degrees)."""
    vector = erfa.s2c(math.radians(longitude), math.radians(latitude))
    ra, dec = erfa.c2s(erfa.rx(-math.radians(obliquity), np.eye(3)) @ vector)
    return math.degrees(ra) % 360.0, math.degrees(dec)


def delta_t_allowance(rows: list[Row], jd_tt: np.ndarray, jd_ut1: np.ndarray) -> np.ndarray:
    """Seconds of Delta T error each row must tolerate (see the module docstring); 0 where none."""
    allowance = np.zeros(len(rows))
    for index, row in enumerate(rows):
        if row.time_scale == "UT1":
            allowance[index] = next(seconds for before, seconds in DELTA_T_ALLOWANCE_S if row.jd < before)
    engine_delta_t = (jd_tt - jd_ut1) * timescales.SECONDS_PER_DAY
    horizons_delta_t = HORIZONS_FUTURE_TT_MINUS_UTC_S - HORIZONS_FUTURE_UT1_MINUS_UTC_S
    future = np.array([row.era == "utc-beyond-iers" for row in rows])
    return np.where(future, np.abs(engine_delta_t - horizons_delta_t), allowance)


def delta_t_shift_arcsec(rows: list[Row], jd_tt: np.ndarray, jd_ut1: np.ndarray, base: np.ndarray) -> np.ndarray:
    """How far each quantity moves when Delta T changes by its allowance, either way, in arcseconds.

    For UT1 rows the unknown Delta T moves TT. For UTC rows after the IERS
    data it moves UT1, because the leap seconds fix TT.
    """
    seconds = delta_t_allowance(rows, jd_tt, jd_ut1) / timescales.SECONDS_PER_DAY
    moves_tt = np.array([row.time_scale == "UT1" for row in rows])
    shift = np.zeros(len(rows))
    for sign in (-1.0, 1.0):
        moved_tt = jd_tt + np.where(moves_tt, sign * seconds, 0.0)
        moved_ut1 = jd_ut1 + np.where(moves_tt, 0.0, sign * seconds)
        moved = measure(rows, moved_tt, moved_ut1)
        shift = np.maximum(shift, separation_arcsec(base[:, 0], base[:, 1], moved[:, 0], moved[:, 1]))
    return shift


def inside_de423(row: Row) -> bool:
    # chart.compute needs half a day of margin for light time.
    kernel = ephemeris.kernel()
    return kernel.start_jd + 1.0 <= row.jd <= kernel.end_jd - 1.0


def skip_reason(row: Row) -> str:
    """Why a row is not compared, or "" when it is."""
    if not inside_de423(row):
        return OUTSIDE_KERNEL
    if row.kind in UNSUPPORTED_KINDS:
        return UNSUPPORTED_KINDS[row.kind]
    if row.kind.startswith("refracted") and _horizons_altitude(row) < MIN_REFRACTED_ALTITUDE_DEG:
        return REFRACTED_NEAR_HORIZON
    return ""


@functools.cache
def _refracted_altitudes() -> dict[tuple[str, str, str], float]:
    """Horizons' refracted altitude by (file, body, time), so refracted RA/Dec rows share their altitude row's cut."""
    return {
        (row.file, row.body, row.time): row.expected[1]
        for short_name in FILES
        for row in read_rows(short_name)
        if row.kind == "refracted_azimuth_altitude"
    }


def _horizons_altitude(row: Row) -> float:
    return _refracted_altitudes()[(row.file, row.body, row.time)]


@functools.cache
def results(*, horizons_future_ut1: bool = False) -> tuple[Result, ...]:
    """Compare every reference row; with horizons_future_ut1, use Horizons' UT1 past the IERS data."""
    all_rows = [row for short_name in FILES for row in read_rows(short_name)]
    reasons = [skip_reason(row) for row in all_rows]
    rows = [row for row, reason in zip(all_rows, reasons) if not reason]

    future_ut1 = HORIZONS_FUTURE_UT1_MINUS_UTC_S if horizons_future_ut1 else None
    jd_tt, jd_ut1 = instants(rows, future_ut1_minus_utc=future_ut1)
    values = measure(rows, jd_tt, jd_ut1)
    expected = np.array([row.expected for row in rows])
    errors = separation_arcsec(values[:, 0], values[:, 1], expected[:, 0], expected[:, 1])
    shifts = np.zeros(len(rows)) if horizons_future_ut1 else delta_t_shift_arcsec(rows, jd_tt, jd_ut1, values)

    compared = [Result(row, float(error), CLAIM_ARCSEC + float(shift)) for row, error, shift in zip(rows, errors, shifts)]
    skipped = [Result(row, math.nan, math.nan, reason) for row, reason in zip(all_rows, reasons) if reason]
    return tuple(compared + skipped)


def group_name(row: Row) -> str:
    """A test id naming file, kind, body and era, e.g. panchang-apparent_geocentric_ecliptic_of_date-moon-tt."""
    return f"{row.file}-{row.kind}-{row.body.lower()}-{row.era}"


@functools.cache
def groups() -> dict[str, list[Result]]:
    grouped = defaultdict(list)
    for result in results():
        if not result.skip_reason and result.row.key not in KNOWN_FAILURES:
            grouped[group_name(result.row)].append(result)
    return dict(grouped)


def _failures(selected: list[Result]) -> list[str]:
    return [
        f"{result.row.file} {result.row.body} {result.row.time} {result.row.time_scale}: "
        f"{result.error_arcsec:.3f} arcsec, bound {result.bound_arcsec:.3f}"
        for result in selected
        if not result.error_arcsec <= result.bound_arcsec
    ]


@pytest.mark.parametrize("name", sorted(groups()))
def test_rows_within_bound(name):
    assert not _failures(groups()[name])


@pytest.mark.parametrize("key", sorted(KNOWN_FAILURES), ids=lambda key: "-".join(key).replace(" ", "_"))
def test_known_failure(key, request):
    request.applymarker(pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[key]))
    selected = [result for result in results() if result.row.key == key]
    assert len(selected) == 1
    assert not _failures(selected)


FUTURE_TOPOCENTRIC_KINDS = ("apparent_topocentric_of_date", "airless_azimuth_altitude")


@pytest.mark.parametrize("kind", FUTURE_TOPOCENTRIC_KINDS)
def test_future_conventions_with_horizons_ut1(kind):
    selected = [
        result
        for result in results(horizons_future_ut1=True)
        if not result.skip_reason and result.row.kind == kind and result.row.era == "utc-beyond-iers"
    ]
    assert len(selected) == 42
    assert not _failures(selected)


def test_every_file_has_compared_rows():
    compared = {result.row.file for result in results() if not result.skip_reason}
    assert compared == set(FILES)


def test_skips_only_documented_reasons():
    reasons = {result.skip_reason for result in results() if result.skip_reason}
    assert reasons <= {OUTSIDE_KERNEL, REFRACTED_NEAR_HORIZON, *UNSUPPORTED_KINDS.values()}


# Kernel and model differences per body. A rotation of the frame of date
# (precession, nutation, equinox) moves every body alike. Subtracting the
# Sun's residual at the same instant removes it and leaves what is specific
# to the body, mostly the DE423 - DE441 difference of its orbit.
KERNEL_DIFFERENCE_BOUND_ARCSEC = 0.25


def residual_vectors(selected: list[Result]) -> dict[tuple[str, str], np.ndarray]:
    """(dlon * cos(lat), dlat) in arcseconds of each geocentric ecliptic row, by (time, body)."""
    rows = [result.row for result in selected]
    jd_tt, jd_ut1 = instants(rows)
    values = measure(rows, jd_tt, jd_ut1)
    vectors = {}
    for row, (longitude, latitude) in zip(rows, values):
        dlon = (longitude - row.expected[0] + 180.0) % 360.0 - 180.0
        vectors[(row.time, row.body)] = np.array([dlon * math.cos(math.radians(latitude)), latitude - row.expected[1]]) * 3600.0
    return vectors


def body_minus_sun_arcsec(file: str, era: str | None = None) -> dict[str, np.ndarray]:
    """Per body, the length of its residual minus the Sun's residual at each shared instant."""
    selected = [
        result
        for result in results()
        if not result.skip_reason
        and result.row.file == file
        and result.row.kind == "apparent_geocentric_ecliptic_of_date"
        and (era is None or result.row.era == era)
    ]
    vectors = residual_vectors(selected)
    differences = defaultdict(list)
    for (time, body), vector in vectors.items():
        if body != "Sun" and (time, "Sun") in vectors:
            differences[body].append(float(np.hypot(*(vector - vectors[(time, "Sun")]))))
    return {body: np.array(values) for body, values in differences.items()}


@pytest.mark.parametrize("body", ["Moon", "Mercury", "Venus", "Mars", "Jupiter", "Saturn"])
def test_kernel_difference_tt(body):
    differences = body_minus_sun_arcsec("panchang")[body]
    assert differences.max() < KERNEL_DIFFERENCE_BOUND_ARCSEC


@pytest.mark.parametrize("body", ["Uranus", "Neptune", "Pluto"])
def test_kernel_difference_outer_planets_since_1962(body):
    differences = body_minus_sun_arcsec("astrology_remastered", "utc-measured")[body]
    assert differences.max() < KERNEL_DIFFERENCE_BOUND_ARCSEC


def common_longitude_drift(file: str, era: str | None = None) -> tuple[float, float]:
    """Fit the Sun's longitude residual (arcsec) as a + b * T, T in Julian centuries from J2000 TT; returns (a, b)."""
    selected = [
        result
        for result in results()
        if not result.skip_reason and result.row.file == file and result.row.body == "Sun" and (era is None or result.row.era == era)
    ]
    vectors = residual_vectors(selected)
    jd_tt, _ = instants([result.row for result in selected])
    centuries = (jd_tt - 2451545.0) / 36525.0
    dlon = np.array([vectors[(result.row.time, "Sun")][0] for result in selected])
    slope, intercept = np.polyfit(centuries, dlon, 1)
    return float(intercept), float(slope)


def delta_t_fitted_to_moon(row: Row) -> float:
    """The Delta T (s) that brings the engine's Moon closest to a UT1 Moon row, searched within 10 s of the model."""
    model = float(timescales.delta_t_model(np.array([row.jd]))[0])
    trial = model + np.arange(-10.0, 10.0, 0.01)
    positions = chart.compute(row.jd + trial / timescales.SECONDS_PER_DAY, np.full(len(trial), row.jd), chart.Place(0.0, 0.0, 0.0))
    errors = separation_arcsec(positions.longitude[:, 1], positions.latitude[:, 1], *row.expected)
    return float(trial[errors.argmin()])


def print_report() -> None:
    """Print the accuracy tables that docs/accuracy.md quotes."""
    print(f"IERS data: {timescales.data_version()}; kernel: {ephemeris.KERNEL}")
    print("\nfile | kind | body | era | n | span | max arcsec | RMS arcsec | min bound arcsec")
    table = defaultdict(list)
    for result in results():
        if not result.skip_reason:
            table[(result.row.file, result.row.kind, result.row.body, result.row.era)].append(result)
    for (file, kind, body, era), selected in sorted(table.items(), key=lambda item: (item[0][0], item[0][1], BODY_INDEX[item[0][2].lower()], item[0][3])):
        errors = np.array([result.error_arcsec for result in selected])
        times = sorted(result.row.time[:10] for result in selected)
        bound = min(result.bound_arcsec for result in selected)
        print(f"{file} | {kind} | {body} | {era} | {len(errors)} | {times[0]}..{times[-1]} | {errors.max():.3f} | {math.sqrt(np.mean(errors**2)):.3f} | {bound:.2f}")

    print("\nFuture rows with Horizons' UT1 (UT1 - UTC = %.2f s):" % HORIZONS_FUTURE_UT1_MINUS_UTC_S)
    for kind in FUTURE_TOPOCENTRIC_KINDS:
        errors = np.array([r.error_arcsec for r in results(horizons_future_ut1=True) if not r.skip_reason and r.row.kind == kind and r.row.era == "utc-beyond-iers"])
        print(f"  {kind}: n {len(errors)}, max {errors.max():.3f}, RMS {math.sqrt(np.mean(errors**2)):.3f}")

    skipped = defaultdict(int)
    for result in results():
        if result.skip_reason:
            skipped[(result.row.file, result.skip_reason)] += 1
    print("\nSkipped rows:")
    for (file, reason), count in sorted(skipped.items()):
        print(f"  {file}: {count} ({reason})")

    print("\nBody minus Sun residual (arcsec): max, RMS, n")
    for file, era in (("panchang", None), ("astrology_remastered", "utc-measured"), ("astrology_remastered", "ut1-before-1962")):
        for body, values in body_minus_sun_arcsec(file, era).items():
            print(f"  {file} {era or 'tt'} {body}: {values.max():.3f}, {math.sqrt(np.mean(values**2)):.3f}, {len(values)}")

    print("\nSun's longitude residual (dlon * cos(lat), arcsec) as a + b * T (centuries from J2000):")
    for file, era in (("panchang", None), ("astrology_remastered", None)):
        intercept, slope = common_longitude_drift(file, era)
        print(f"  {file}: a = {intercept:.3f}, b = {slope:.3f}")

    print("\nDelta T fitted to Horizons' UT1 Moon rows (s): time, engine model, fitted")
    for row in read_rows("astrology_remastered"):
        if row.body == "Moon" and row.time_scale == "UT1" and inside_de423(row):
            model = float(timescales.delta_t_model(np.array([row.jd]))[0])
            print(f"  {row.time}: {model:.2f}, {delta_t_fitted_to_moon(row):.2f}")


if __name__ == "__main__":
    print_report()
