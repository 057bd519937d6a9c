"""Charts: the positions of the Sun, the Moon and the planets with everything a chart needs.

This is the position engine's front door. It turns instants (UTC or TT) and
a place into charts. Apparent positions come from defrag.chart (JPL DE423
with the IAU 2006/2000A reductions), signs and the sidereal zodiac from
defrag.zodiac, angles and house cusps from defrag.houses, and the time
scales from defrag.timescales. One instant and a batch of instants go
through the same vectorised code.

Frames (every angle in degrees):
- ecliptic longitude and latitude, speed, signs, houses, nodes: geocentric,
  apparent, ecliptic and equinox of date (tropical), or sidereal when asked;
- right ascension and declination: topocentric, apparent, true equator and
  equinox of date;
- azimuth (0 = north, 90 = east) and altitude: topocentric, airless unless
  refraction is asked for.

This module imports no gRPC and no Redis.
"""

import dataclasses
import datetime as dt
import math

import numpy as np

from defrag import chart, ephemeris, houses, localtime, reductions, timescales, zodiac
from defrag.localtime import InvalidField, shown

BODIES = chart.BODIES

# Years of the local date that the service accepts: the span of DE423
# (TDB 1799-12-16 to 2200-02-02), less room for a UTC offset and light time.
FIRST_YEAR = 1800
LAST_YEAR = 2199

LATITUDE_RANGE = (-90.0, 90.0)
LONGITUDE_RANGE = (-180.0, 180.0)
ELEVATION_RANGE_METERS = (-500.0, 10000.0)

TIME_SCALES = ("utc", "tt")
DEFAULT_TIME_SCALE = "utc"

# Accuracy classes: "arcsecond" where UT1 is measured (or predicted less than
# PREDICTION_TRUSTED_DAYS ahead), "delta_t_model" where UT1 comes from a model.
# docs/accuracy.md gives the bounds of each.
PRECISION_ARCSECOND = "arcsecond"
PRECISION_DELTA_T = "delta_t_model"
# Bulletin A's UT1 predictions stay within a few milliseconds for about three
# months after its last measured day, so later ones count as a model.
PREDICTION_TRUSTED_DAYS = 90.0


@dataclasses.dataclass(frozen=True)
class Source:
    """The engine and ephemeris that produce the positions."""

    engine: str
    engine_version: str
    ephemeris: str


SOURCE = Source(
    engine="defrag",
    engine_version="2.0",
    ephemeris=(
        f"JPL {ephemeris.KERNEL} (de423 package {ephemeris.KERNEL_PACKAGE_VERSION}); IAU 2006 precession, "
        f"IAU 2000A nutation; UT1 from IERS EOP 20 C04 and Bulletin A ({timescales.data_version()})"
    ),
)


@dataclasses.dataclass(frozen=True)
class Observer:
    """A place on the Earth: geodetic latitude and longitude in degrees, height in metres."""

    lat: float
    lon: float
    elevation_meters: float = 0.0


@dataclasses.dataclass(frozen=True)
class Options:
    """Chart options beyond the positions: refraction, zodiac, ayanamsa, house system and whether the time is known."""

    refraction: bool = False
    zodiac: str = zodiac.DEFAULT_ZODIAC
    ayanamsa: str = ""  # empty unless zodiac is sidereal
    house_system: str = houses.DEFAULT_HOUSE_SYSTEM
    time_known: bool = True


@dataclasses.dataclass(frozen=True)
class Charts:
    """N charts as arrays: (N, 10) per body in the order of BODIES, (N,) per chart.

    Longitudes are in the chart's zodiac (tropical or sidereal), and signs
    are indexes into zodiac.SIGNS. Angle and house arrays are None when the
    time is unknown.
    """

    positions: chart.Positions  # tropical ecliptic values, whatever the zodiac
    instants: timescales.Instants
    options: Options
    time_scale: str
    longitude: np.ndarray  # (N, 10)
    speed: np.ndarray  # (N, 10) degrees of longitude per day, in the chart's zodiac
    retrograde: np.ndarray  # (N, 10) bool
    stationary: np.ndarray  # (N, 10) bool
    sign: np.ndarray  # (N, 10) int
    degree_in_sign: np.ndarray  # (N, 10)
    house: np.ndarray | None  # (N, 10) int, 1..12
    angles: np.ndarray | None  # (N, 5): ascendant, midheaven, descendant, imum coeli, vertex
    cusps: np.ndarray | None  # (N, 12)
    house_system_used: tuple[str, ...]
    mean_node: np.ndarray  # (N,)
    true_node: np.ndarray
    ayanamsa: np.ndarray | None  # (N,) degrees, when sidereal
    precision: tuple[str, ...]
    warnings: tuple[tuple[str, ...], ...]
    # Warnings about the houses alone (a polar fallback), kept apart so that a
    # caller can drop them for a chart it shows without houses.
    house_warnings: tuple[tuple[str, ...], ...]

    def __len__(self) -> int:
        return len(self.longitude)


# A shared zero shift for tropical single charts, which are the most common.
_NO_SHIFT = {1: np.zeros(1)}

# Passed when a chart has no houses, so that signs_and_houses skips them.
_NO_CUSPS = np.empty((0, 12))

ANGLES = ("ascendant", "midheaven", "descendant", "imum_coeli", "vertex")


def validate_observer(lat: float | None, lon: float | None, elevation_meters: float | None) -> list[InvalidField]:
    """Check an observer's fields, where None means missing. Returns one InvalidField per bad field."""
    errors = []
    checks = (
        ("lat", lat, LATITUDE_RANGE, "degrees, north positive", True),
        ("lon", lon, LONGITUDE_RANGE, "degrees, east positive", True),
        ("elevation_meters", elevation_meters, ELEVATION_RANGE_METERS, "metres above the ellipsoid (default 0)", False),
    )
    for field, value, (low, high), unit, required in checks:
        if value is None:
            if required:
                errors.append(InvalidField(field, f"{field} is missing: send it in {unit}, {low:g}..{high:g}"))
            continue
        # The chained comparison is also false for NaN.
        if not low <= value <= high:
            errors.append(InvalidField(field, f"{value!r} is outside {low:g}..{high:g}: send {field} in {unit}"))
    return errors


def validate_options(time_scale: str, zodiac_name: str, ayanamsa: str, house_system: str) -> list[InvalidField]:
    """Check the option fields of a request, where empty strings mean the defaults."""
    errors = []
    if time_scale and time_scale not in TIME_SCALES:
        errors.append(InvalidField("time_scale", f"{shown(time_scale)} is not a time scale: use one of {', '.join(TIME_SCALES)} (default utc)"))
    if zodiac_name and zodiac_name not in zodiac.ZODIACS:
        errors.append(InvalidField("zodiac", f"{shown(zodiac_name)} is not a zodiac: use one of {', '.join(zodiac.ZODIACS)} (default tropical)"))
    if ayanamsa and ayanamsa not in zodiac.AYANAMSAS:
        errors.append(InvalidField("ayanamsa", f"{shown(ayanamsa)} is not a supported ayanamsa: use one of {', '.join(zodiac.AYANAMSAS)}"))
    elif ayanamsa and (zodiac_name or zodiac.DEFAULT_ZODIAC) != "sidereal":
        errors.append(InvalidField("ayanamsa", "an ayanamsa applies only to the sidereal zodiac: add zodiac=sidereal or leave ayanamsa empty"))
    if house_system and house_system not in houses.HOUSE_SYSTEMS:
        errors.append(InvalidField("house_system", f"{shown(house_system)} is not a house system: use one of {', '.join(houses.HOUSE_SYSTEMS)}"))
    return errors


def options_from_fields(zodiac_name: str, ayanamsa: str, house_system: str, refraction: bool, time_known: bool) -> Options:
    """Build Options from validated request fields, filling in the defaults."""
    chosen_zodiac = zodiac_name or zodiac.DEFAULT_ZODIAC
    return Options(
        refraction=refraction,
        zodiac=chosen_zodiac,
        ayanamsa=(ayanamsa or zodiac.DEFAULT_AYANAMSA) if chosen_zodiac == "sidereal" else "",
        house_system=house_system or houses.DEFAULT_HOUSE_SYSTEM,
        time_known=time_known,
    )


def julian_date(instant: dt.datetime) -> float:
    """Return the Julian date of a naive or timezone-aware datetime, read on its own scale (proleptic Gregorian)."""
    naive = instant.astimezone(dt.UTC).replace(tzinfo=None) if instant.tzinfo else instant
    return 2440587.5 + (naive - _UNIX_EPOCH).total_seconds() / timescales.SECONDS_PER_DAY


def utc_from_tt(jd_tt: float) -> dt.datetime:
    """Convert a TT Julian date to a UTC datetime (UT1 before 1960), to the microsecond."""
    jd = timescales.utc_from_tt(jd_tt)
    return (_UNIX_EPOCH + dt.timedelta(days=jd - 2440587.5)).replace(tzinfo=dt.UTC)


def compute_charts(jd: np.ndarray, time_scale: str, observer: Observer, options: Options) -> Charts:
    """Compute one chart per Julian date, read on the given time scale ("utc" or "tt").

    Raises ephemeris.OutsideEphemeris for a date outside DE423.
    """
    jd = np.asarray(jd, dtype=float)
    count = len(jd)
    instants = timescales.from_tt(jd) if time_scale == "tt" else timescales.from_utc(jd)
    place = chart.Place(observer.lat, observer.lon, observer.elevation_meters)
    positions = chart.compute(instants.jd_tt, instants.jd_ut1, place, refraction=options.refraction)

    shift = _NO_SHIFT.get(count)
    if shift is None:
        shift = np.zeros(count)
    longitude = positions.longitude
    speed, retrograde, stationary = positions.speed, positions.retrograde, positions.stationary
    ayanamsa = None
    if options.zodiac == "sidereal":
        # Apparent longitudes are measured from the true equinox, so the
        # ayanamsa takes the nutation in longitude too.
        ayanamsa = zodiac.ayanamsa_degrees(options.ayanamsa, instants.jd_tt) + positions.nutation_longitude
        shift = ayanamsa
        longitude = (longitude - shift[:, None]) % 360.0
        # Sidereal longitudes do not follow the equinox's precession.
        speed, retrograde, stationary = chart.motion_flags(speed - chart.PRECESSION_DEGREES_PER_DAY)
    warnings: list[list[str]] = [[] for _ in range(count)]
    house_warnings: list[list[str]] = [[] for _ in range(count)]
    angles = cusps = house = None
    used: tuple[str, ...] = ()
    if options.time_known:
        angles, cusps, used = _houses(positions, observer, options, shift, house_warnings)
    sign = np.empty(longitude.shape, dtype=np.int64)
    degree_in_sign = np.empty(longitude.shape)
    house = np.zeros(longitude.shape, dtype=np.int64)
    reductions.signs_and_houses(longitude, cusps if cusps is not None else _NO_CUSPS, sign, degree_in_sign, house)
    if cusps is None:
        house = None
    mean_node, true_node = positions.mean_node, positions.true_node
    if ayanamsa is not None:
        mean_node, true_node = (mean_node - shift) % 360.0, (true_node - shift) % 360.0

    precision = _precision(instants, time_scale, warnings)
    return Charts(
        positions=positions,
        instants=instants,
        options=options,
        time_scale=time_scale,
        longitude=longitude,
        speed=speed,
        retrograde=retrograde,
        stationary=stationary,
        sign=sign,
        degree_in_sign=degree_in_sign,
        house=house,
        angles=angles,
        cusps=cusps,
        house_system_used=used,
        mean_node=mean_node,
        true_node=true_node,
        ayanamsa=ayanamsa,
        precision=precision,
        warnings=tuple(tuple(notes) for notes in warnings),
        house_warnings=tuple(tuple(notes) for notes in house_warnings),
    )


def warm_up() -> None:
    """Load the zone boundaries and the ephemeris and compute a chart, so that a service's first request does not pay for them."""
    localtime.zone_at(0.0, 0.0)
    now = np.array([julian_date(dt.datetime.now(dt.UTC))])
    compute_charts(now, "utc", Observer(0.0, 0.0), Options())


def signs_of(longitude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return sign indexes (into zodiac.SIGNS) and degrees into the sign, for longitudes (N, B) in [0, 360)."""
    sign = np.empty(longitude.shape, dtype=np.int64)
    degree_in_sign = np.empty(longitude.shape)
    reductions.signs_and_houses(longitude, _NO_CUSPS, sign, degree_in_sign, np.zeros(longitude.shape, dtype=np.int64))
    return sign, degree_in_sign


def houses_of(longitude: np.ndarray, cusps: np.ndarray) -> np.ndarray:
    """Return house numbers 1..12 of longitudes (N, B) for cusps (N, 12), across the 0/360 wrap.

    A longitude belongs to house k when it lies at or after cusp k and
    before cusp k + 1, going forward along the ecliptic.
    """
    house = np.zeros(longitude.shape, dtype=np.int64)
    reductions.signs_and_houses(longitude, cusps, np.empty(longitude.shape, dtype=np.int64), np.empty(longitude.shape), house)
    return house


def biological_pressure_score(airless_altitude_degrees: float) -> float:
    """Return sin(altitude) clipped to 0..1: 0 at or below the horizon, 1 at the zenith.

    It uses the airless altitude, so the refraction option does not change it.
    It is a geometric index, not a physiological measurement.
    """
    return max(0.0, math.sin(math.radians(airless_altitude_degrees)))


_UNIX_EPOCH = dt.datetime(1970, 1, 1)


def _houses(positions: chart.Positions, observer: Observer, options: Options, shift: np.ndarray, warnings: list[list[str]]):
    """Compute angles (N, 5) and cusps (N, 12) in the chart's zodiac, and the system used for each chart."""
    system = options.house_system
    if len(shift) == 1:
        # One chart: the pure-math path is faster than NumPy on one row.
        values, system_used, notes = houses.chart_values(
            system, float(positions.local_sidereal_time[0]), observer.lat, float(positions.true_obliquity[0])
        )
        angles = values[None, :5]
        cusps = values[None, 5:]
        used = (system_used,)
        warnings[0].extend(notes)
    else:
        batch = houses.compute_houses_batch(system, positions.local_sidereal_time, observer.lat, positions.true_obliquity)
        angles = np.stack([batch.ascendant, batch.midheaven, batch.descendant, batch.imum_coeli, batch.vertex], axis=1)
        cusps = batch.cusps
        used = batch.system_used
        for index, system_used in enumerate(used):
            if system_used != system:
                warnings[index].append(houses.polar_warning(system, observer.lat, float(positions.true_obliquity[index])))

    if options.zodiac == "tropical":
        return angles, cusps, used
    angles = (angles - shift[:, None]) % 360.0
    if system == "whole_sign":
        # Whole-sign cusps start at 0 degrees of the ascendant's own sign, in the chosen zodiac.
        cusps = (np.floor(angles[:, :1] / 30.0) * 30.0 + 30.0 * np.arange(12)) % 360.0
    else:
        cusps = (cusps - shift[:, None]) % 360.0
    return angles, cusps, used


def _precision(instants: timescales.Instants, time_scale: str, warnings: list[list[str]]) -> tuple[str, ...]:
    """Return the accuracy class of each chart, appending a warning where UT1 is modelled."""
    if all(source == timescales.UT1_MEASURED for source in instants.ut1_source):
        return (PRECISION_ARCSECOND,) * len(warnings)
    trusted_until = timescales.last_measured_jd() + PREDICTION_TRUSTED_DAYS
    classes = []
    for index, source in enumerate(instants.ut1_source):
        modelled = source == timescales.UT1_MODEL or (source == timescales.UT1_PREDICTED and instants.jd_ut1[index] > trusted_until)
        if modelled:
            warnings[index].append(_delta_t_warning(source, time_scale, float(instants.jd_ut1[index])))
        classes.append(PRECISION_DELTA_T if modelled else PRECISION_ARCSECOND)
    return tuple(classes)


def _delta_t_warning(source: str, time_scale: str, jd: float) -> str:
    affected = "azimuth, altitude, angles, houses and topocentric positions"
    if time_scale == "utc" and jd < timescales.UTC_STARTS_JD:
        # Before 1960 a time read as UTC is Universal Time, so TT itself comes from the model.
        affected += ", and the Moon's position"
    origin = (
        "from a Bulletin A prediction more than 90 days past its last measurement"
        if source == timescales.UT1_PREDICTED
        else "from the Delta T model, not from IERS measurements"
    )
    return f"UT1 at this date comes {origin}, so {affected} carry its error (see the accuracy section of the API reference)"
