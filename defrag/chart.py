"""Apparent positions of the Sun, the Moon and the planets from JPL DE423, for many instants at once.

One observer, N instants: every step below works on arrays of N instants
by 10 bodies, so a single chart and a year of daily charts take the same
code path.

The reductions, in order (IAU 2006/2000A, as in the IERS Conventions 2010
and the Astronomical Almanac):

1. TT to TDB with the two largest periodic terms (under 2 ms).
2. The Earth's barycentric position and velocity from the Earth-Moon
   barycentre and the geocentric Moon.
3. The observer: the WGS84 place turned into the celestial frame with
   Greenwich apparent sidereal time (polar motion, under 0.5 arcsecond at the
   ground and invisible from the Earth's centre, is left out).
4. Light time: each body at the moment its light left it, found in two
   passes over the ephemeris (the second corrected to first order in the
   remaining difference, which leaves under a metre).
5. Gravitational deflection of light by the Sun, then annual and diurnal
   aberration with the relativistic formula (ERFA's ld and ab).
6. Bias, precession and nutation (IAU 2006 precession, IAU 2000A nutation
   with the IAU 2006 corrections: ERFA's nut06a and pn06) to the true
   equator and equinox of date; the true obliquity of date gives the
   ecliptic of date.
7. Azimuth and altitude from the local apparent sidereal time; refraction
   only when asked, with a standard atmosphere.

Geocentric values (ecliptic longitude and latitude, speed) are seen from the
Earth's centre; right ascension, declination, azimuth and altitude are seen
from the observer (topocentric), where the Moon's parallax reaches 1 degree.
"""

import dataclasses
import functools
import math

import erfa
import numpy as np

from defrag import ephemeris, timescales

BODIES = ("sun", "moon", "mercury", "venus", "mars", "jupiter", "saturn", "uranus", "neptune", "pluto")

# Segments evaluated in each pass: the nine barycentric targets, then the
# Earth-Moon barycentre and the geocentric Moon, which give both the Earth
# and the Moon as a target.
# Row 1 is a placeholder for the Moon, which is built from the last two
# rows; evaluating the barycentre there keeps BODIES' order without copying.
_PASS_SEGMENTS = np.array(
    [ephemeris.SEGMENT_INDEX[name] for name in ("sun", "earthmoon", "mercury", "venus", "mars", "jupiter", "saturn", "uranus", "neptune", "pluto", "earthmoon", "moon")],
    dtype=np.intp,
)
_ROWS_PER_PASS = len(_PASS_SEGMENTS)

_SUN = 0
# One day before and after the kernel's span, so interpolation never runs off the table.
_NUTATION_TABLE_START = 2378479.5
_NUTATION_TABLE_DAYS = np.arange(0.0, 2524625.5 - _NUTATION_TABLE_START + 1.0)
_NUTATION_ROW_STEP = np.array([[0, 1]])
_SCHWARZSCHILD_RADIUS_OF_SUN_AU = 1.97412574336e-8
_EARTH_ROTATION_RAD_PER_SECOND = 7.292115e-5
_WGS84 = 1
_DEGREES = 180.0 / math.pi
# The mean motion of the equinox along the ecliptic (general precession), in
# degrees per day, added to speeds because longitudes are of date.
_PRECESSION_DEGREES_PER_DAY = 5028.796195 / 3600.0 / 36525.0

# A body is stationary when its speed in longitude is under 1% of its mean
# geocentric motion (the Sun's for Mercury and Venus), in degrees per day.
MEAN_MOTION_DEGREES_PER_DAY = {
    "mercury": 0.9856,
    "venus": 0.9856,
    "mars": 0.5240,
    "jupiter": 0.0831,
    "saturn": 0.0335,
    "uranus": 0.0117,
    "neptune": 0.0060,
    "pluto": 0.0040,
}
STATIONARY_FRACTION = 0.01
_STATIONARY_LIMIT = np.array([MEAN_MOTION_DEGREES_PER_DAY.get(body, 0.0) * STATIONARY_FRACTION for body in BODIES])
_CAN_RETROGRADE = np.array([body in MEAN_MOTION_DEGREES_PER_DAY for body in BODIES])


@dataclasses.dataclass(frozen=True)
class Place:
    """The observer on the WGS84 ellipsoid."""

    lat: float  # degrees, geodetic
    lon: float  # degrees, east positive
    elevation_meters: float


@dataclasses.dataclass(frozen=True)
class Positions:
    """Arrays of N instants (and 10 bodies, in the order of BODIES, where two-dimensional)."""

    jd_tt: np.ndarray
    jd_ut1: np.ndarray
    # Topocentric, apparent, true equator and equinox of date.
    ra: np.ndarray  # degrees [0, 360)
    dec: np.ndarray
    distance_au: np.ndarray
    azimuth: np.ndarray  # degrees, 0 = north, 90 = east
    altitude: np.ndarray  # degrees, refracted only when asked
    # Geocentric, apparent, ecliptic and equinox of date.
    longitude: np.ndarray  # degrees [0, 360)
    latitude: np.ndarray
    geocentric_distance_au: np.ndarray
    speed: np.ndarray  # degrees of longitude per day
    retrograde: np.ndarray  # bool
    stationary: np.ndarray  # bool
    # Per instant.
    true_obliquity: np.ndarray  # degrees
    nutation_longitude: np.ndarray  # degrees
    local_sidereal_time: np.ndarray  # degrees: ARMC, the right ascension of the meridian
    mean_node: np.ndarray  # degrees, ecliptic of date
    true_node: np.ndarray  # degrees, ecliptic of date, osculating
    moon_phase_angle: np.ndarray  # degrees, 0 = full, 180 = new
    moon_illuminated_fraction: np.ndarray
    moon_elongation: np.ndarray  # degrees, Moon's longitude minus the Sun's, [0, 360)


def compute(jd_tt: np.ndarray, jd_ut1: np.ndarray, place: Place, *, refraction: bool = False) -> Positions:
    """Compute the apparent positions for N instants given as TT and UT1 Julian dates.

    Raises ephemeris.OutsideEphemeris for a date outside DE423.
    """
    kernel = ephemeris.kernel()
    count = len(jd_tt)
    jd_tdb = jd_tt + _tdb_minus_tt(jd_tt)

    dpsi, deps = nutation(jd_tt)
    mean_obliquity, _bias, _precession, _bias_precession, _nutation, npb = erfa.pn06(jd_tt, 0.0, dpsi, deps)
    gast = erfa.gst06(jd_ut1, 0.0, jd_tt, 0.0, npb)
    true_obliquity = mean_obliquity + deps
    last = gast + math.radians(place.lon)
    # From the celestial frame to the ecliptic of date (precession-nutation,
    # then a turn about x by the obliquity), and to the true equator of date.
    to_ecliptic = np.matmul(_x_rotation(true_obliquity), npb)
    frames = np.stack([to_ecliptic, npb], axis=1)

    # Pass 1: every segment at the moment of observation. Light from Pluto
    # takes under 0.4 days, so the margin keeps pass 2 inside the kernel too.
    kernel.check_span(jd_tdb, margin_days=0.5)
    positions, velocities = _evaluate(kernel, np.repeat(jd_tdb, _ROWS_PER_PASS))
    earth = positions[:, 10] - positions[:, 11] * kernel.earth_share
    earth_velocity = velocities[:, 10] - velocities[:, 11] * kernel.earth_share
    moon_geocentric = positions[:, 11], velocities[:, 11]
    observer, observer_velocity = _observer(place, gast, npb)
    # Row 0 looks from the Earth's centre, row 1 from the observer.
    origins = np.stack([earth, earth + observer], axis=1)
    origin_velocities = np.stack([earth_velocity, earth_velocity + observer_velocity], axis=1)

    # Pass 2: every target at the moment its light left it, for the Earth's centre.
    targets, _ = _targets(kernel, positions, velocities)
    light_time = _norm(targets - earth[:, None, :]) / kernel.light_speed_km_per_day
    moment = jd_tdb[:, None] - light_time
    positions, velocities = _evaluate(kernel, np.concatenate([moment, moment[:, 1:2], moment[:, 1:2]], axis=1).reshape(-1))
    targets, target_velocities = _targets(kernel, positions, velocities)
    # Correct each target to first order for the remaining light-time
    # difference, for both origins at once: shape (N, 2, 10, 3).
    light_time = _norm(targets[:, None] - origins[:, :, None]) / kernel.light_speed_km_per_day
    moment_shift = moment[:, None, :] - (jd_tdb[:, None, None] - light_time)
    targets = targets[:, None] - target_velocities[:, None] * moment_shift[..., None]
    relative = targets - origins[:, :, None]
    distance = _norm(relative)

    apparent = _apparent(relative, distance, targets[:, 0, _SUN], origins, origin_velocities, kernel)
    # Geocentric ecliptic of date in row 0, topocentric true equator of date in row 1.
    of_date = np.einsum("nkij,nkbj->nkbi", frames, apparent)
    longitudes = np.degrees(np.arctan2(of_date[..., 1], of_date[..., 0])) % 360.0
    latitudes = np.degrees(np.arcsin(np.clip(of_date[..., 2], -1.0, 1.0)))
    ra, dec = longitudes[:, 1], latitudes[:, 1]

    azimuth, altitude = erfa.hd2ae(last[:, None] - np.radians(ra), np.radians(dec), math.radians(place.lat))
    altitude = np.degrees(altitude)
    if refraction:
        altitude = altitude + refraction_degrees(altitude)

    speed = _longitude_speed(relative[:, 0], target_velocities - earth_velocity[:, None, :], to_ecliptic)
    longitude = longitudes[:, 0]
    phase_angle, illuminated = _moon_phase(targets[:, 0], earth)
    return Positions(
        jd_tt=jd_tt,
        jd_ut1=jd_ut1,
        ra=ra,
        dec=dec,
        distance_au=distance[:, 1] / kernel.au_km,
        azimuth=np.degrees(azimuth),
        altitude=altitude,
        longitude=longitude,
        latitude=latitudes[:, 0],
        geocentric_distance_au=distance[:, 0] / kernel.au_km,
        speed=speed,
        retrograde=_CAN_RETROGRADE & (speed < 0.0),
        stationary=_CAN_RETROGRADE & (np.abs(speed) < _STATIONARY_LIMIT),
        true_obliquity=np.degrees(true_obliquity),
        nutation_longitude=np.degrees(dpsi),
        local_sidereal_time=np.degrees(last) % 360.0,
        mean_node=(_mean_node(jd_tt) + np.degrees(dpsi)) % 360.0,
        true_node=_true_node(*moon_geocentric, to_ecliptic),
        moon_phase_angle=phase_angle,
        moon_illuminated_fraction=illuminated,
        moon_elongation=(longitude[:, 1] - longitude[:, 0]) % 360.0,
    )


def nutation(jd_tt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nutation in longitude and obliquity (radians), IAU 2000A with the IAU 2006 corrections.

    The full series (ERFA's nut06a, 1,365 terms) costs about 40 microseconds
    an instant, more than the rest of a chart's positions. So the 77-term
    IAU 2000B series (nut00b) is evaluated at each instant, and the
    difference between the two, which changes slowly, is interpolated from a
    table of daily values over the whole ephemeris. The result stays within
    0.0002 arcsecond of the full series (measured at 20,000 random instants
    in 1800..2200).
    """
    dpsi, deps = erfa.nut00b(jd_tt, 0.0)
    # The table holds one value a day, so the day number is the index.
    day, fraction = np.divmod(jd_tt - _NUTATION_TABLE_START, 1.0)
    rows = nutation_correction()[:, day.astype(np.intp)[:, None] + _NUTATION_ROW_STEP]
    correction = rows[:, :, 0] + (rows[:, :, 1] - rows[:, :, 0]) * fraction
    return dpsi + correction[0], deps + correction[1]


@functools.cache
def nutation_correction() -> np.ndarray:
    """The daily table of nut06a - nut00b (2, days) in radians, from the cache folder."""
    return ephemeris.cached_array("nutation-2000a-minus-2000b-v1", _nutation_difference)


def _nutation_difference() -> np.ndarray:
    full = np.array(erfa.nut06a(_NUTATION_TABLE_START + _NUTATION_TABLE_DAYS, 0.0))
    short = np.array(erfa.nut00b(_NUTATION_TABLE_START + _NUTATION_TABLE_DAYS, 0.0))
    return full - short


def refraction_degrees(altitude: np.ndarray) -> np.ndarray:
    """Refraction in degrees for an airless altitude in degrees, at 10 C and 1010 hPa (Saemundsson's formula).

    Below -1 degree the body is set and no refraction is added.
    """
    argument = np.radians(altitude + 10.3 / (altitude + 5.11))
    refraction = 1.02 / np.tan(argument) / 60.0
    return np.where(altitude > -1.0, refraction, 0.0)


def _tdb_minus_tt(jd_tt: np.ndarray) -> np.ndarray:
    """TDB - TT in days from its two largest periodic terms (1.657 ms and 0.022 ms)."""
    g = np.radians(357.53 + 0.98560028 * (jd_tt - 2451545.0))
    return (0.001657 * np.sin(g) + 0.000014 * np.sin(2.0 * g)) / timescales.SECONDS_PER_DAY


def _evaluate(kernel: ephemeris.Kernel, jd_tdb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate the pass segments, 12 dates an instant; returns (N, 12, 3) positions and velocities."""
    count = len(jd_tdb) // _ROWS_PER_PASS
    states = kernel.evaluate(_pass_plan(kernel, count), jd_tdb).reshape(count, _ROWS_PER_PASS, 2, 3)
    return states[:, :, 0], states[:, :, 1]


@functools.lru_cache(maxsize=16)
def _pass_plan(kernel: ephemeris.Kernel, count: int) -> ephemeris.Plan:
    return kernel.plan(np.tile(_PASS_SEGMENTS, count))


def _targets(kernel: ephemeris.Kernel, positions: np.ndarray, velocities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Barycentric states of the ten bodies (N, 10, 3), in the order of BODIES.

    The pass holds the Sun, a placeholder for the Moon, Mercury..Pluto, the
    Earth-Moon barycentre and the geocentric Moon; the Moon is the
    barycentre plus its share of the geocentric Moon.
    """
    share = 1.0 - kernel.earth_share
    states = []
    for values in (positions, velocities):
        bodies = values[:, :10].copy()
        bodies[:, 1] = values[:, 10] + values[:, 11] * share
        states.append(bodies)
    return states[0], states[1]


def _observer(place: Place, gast: np.ndarray, npb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The observer's geocentric position (km) and velocity (km/day) in the celestial frame."""
    terrestrial = np.asarray(erfa.gd2gc(_WGS84, math.radians(place.lon), math.radians(place.lat), place.elevation_meters)) / 1000.0
    cos_g, sin_g = np.cos(gast), np.sin(gast)
    x, y, z = terrestrial
    # Rotate the terrestrial vector by sidereal time into the true equator of date.
    of_date = np.empty((len(gast), 3))
    of_date[:, 0] = cos_g * x - sin_g * y
    of_date[:, 1] = sin_g * x + cos_g * y
    of_date[:, 2] = z
    omega = _EARTH_ROTATION_RAD_PER_SECOND * timescales.SECONDS_PER_DAY
    velocity_of_date = np.zeros_like(of_date)
    velocity_of_date[:, 0] = -omega * of_date[:, 1]
    velocity_of_date[:, 1] = omega * of_date[:, 0]
    # The transpose of the precession-nutation matrix takes "of date" back to the celestial frame.
    return np.einsum("nji,nj->ni", npb, of_date), np.einsum("nji,nj->ni", npb, velocity_of_date)


def _apparent(relative, distance, sun, origins, origin_velocities, kernel):
    """Deflect and aberrate the directions (N, 2, 10, 3) seen from the two origins; returns unit vectors."""
    direction = relative / distance[..., None]
    sun_to_origin = origins - sun[:, None, :]
    sun_distance = _norm(sun_to_origin)
    e = sun_to_origin / sun_distance[..., None]
    sun_to_target = relative + sun_to_origin[:, :, None, :]
    # The Sun's own row is a zero vector: give it a unit length so nothing divides by zero.
    sun_target_distance = _norm(sun_to_target)
    sun_target_distance[..., _SUN] = 1.0
    q = sun_to_target / sun_target_distance[..., None]
    em = sun_distance / kernel.au_km
    deflected = erfa.ld(1.0, direction, q, e[:, :, None, :], em[..., None], 1e-9)
    # The Sun does not deflect its own light.
    deflected[..., _SUN, :] = direction[..., _SUN, :]

    velocity_c = origin_velocities / kernel.light_speed_km_per_day
    inverse_lorentz = np.sqrt(1.0 - np.sum(velocity_c * velocity_c, axis=-1))
    return erfa.ab(deflected, velocity_c[:, :, None, :], em[..., None], inverse_lorentz[..., None])


def _norm(vectors: np.ndarray) -> np.ndarray:
    """Euclidean length along the last axis; faster than np.linalg.norm on small arrays."""
    return np.sqrt(np.einsum("...i,...i->...", vectors, vectors))


def _x_rotation(angle: np.ndarray) -> np.ndarray:
    """Matrices (N, 3, 3) that turn the axes by each angle about x (the frame rotates, vectors keep still)."""
    cosine, sine = np.cos(angle), np.sin(angle)
    matrices = np.zeros((len(angle), 3, 3))
    matrices[:, 0, 0] = 1.0
    matrices[:, 1, 1] = cosine
    matrices[:, 1, 2] = sine
    matrices[:, 2, 1] = -sine
    matrices[:, 2, 2] = cosine
    return matrices


def _longitude_speed(relative: np.ndarray, relative_velocity: np.ndarray, to_ecliptic: np.ndarray) -> np.ndarray:
    """Rate of geocentric ecliptic longitude of date, degrees per day, for the ten targets in pass order."""
    position = np.einsum("nij,nbj->nbi", to_ecliptic, relative)
    velocity = np.einsum("nij,nbj->nbi", to_ecliptic, relative_velocity)
    x, y = position[..., 0], position[..., 1]
    rate = (x * velocity[..., 1] - y * velocity[..., 0]) / (x * x + y * y)
    return np.degrees(rate) + _PRECESSION_DEGREES_PER_DAY


def _true_node(moon_position: np.ndarray, moon_velocity: np.ndarray, to_ecliptic: np.ndarray) -> np.ndarray:
    """Longitude of the ascending node of the Moon's osculating geocentric orbit, ecliptic of date.

    The node lies along z x h, where h = r x v is the orbit's normal; only
    h's x and y components are needed.
    """
    r = np.einsum("nij,nj->ni", to_ecliptic, moon_position)
    v = np.einsum("nij,nj->ni", to_ecliptic, moon_velocity)
    normal_x = r[:, 1] * v[:, 2] - r[:, 2] * v[:, 1]
    normal_y = r[:, 2] * v[:, 0] - r[:, 0] * v[:, 2]
    return np.degrees(np.arctan2(normal_x, -normal_y)) % 360.0


def _mean_node(jd_tt: np.ndarray) -> np.ndarray:
    """Mean longitude of the Moon's ascending node on the mean ecliptic of date (Chapront's lunar theory), degrees."""
    t = (jd_tt - 2451545.0) / 36525.0
    return (125.0445479 - 1934.1362891 * t + 0.0020754 * t * t + t * t * t / 467441.0 - t**4 / 60616000.0) % 360.0


def _moon_phase(targets: np.ndarray, earth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Moon's phase angle (Sun-Moon-Earth, degrees) and illuminated fraction."""
    moon = targets[:, 1]
    to_sun = targets[:, _SUN] - moon
    to_earth = earth - moon
    cosine = np.sum(to_sun * to_earth, axis=1) / (_norm(to_sun) * _norm(to_earth))
    angle = np.arccos(np.clip(cosine, -1.0, 1.0))
    return np.degrees(angle), (1.0 + np.cos(angle)) / 2.0
