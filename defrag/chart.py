"""Apparent positions of the Sun, the Moon and the planets from JPL DE423, for many instants at once.

One observer, N instants: a single chart and a year of daily charts take
the same code path. The steps that work on whole instants (time scales,
nutation, the precession-nutation matrix, sidereal time) are NumPy and
ERFA calls on arrays of N; the per-body work runs in one loop compiled by
Numba (defrag.reductions).

The reductions, in order (IAU 2006/2000A, as in the IERS Conventions 2010
and the Astronomical Almanac):

1. TT to TDB with the largest periodic term (1.7 ms). The other terms stay
   under 0.03 ms.
2. The Earth's barycentric position and velocity from the Earth-Moon
   barycentre and the geocentric Moon.
3. The observer: the WGS84 place turned into the celestial frame with
   Greenwich apparent sidereal time (polar motion, under 0.5 arcsecond at the
   ground and invisible from the Earth's centre, is left out).
4. Light time: each body at the moment its light left it. One pass over the
   ephemeris evaluates each body at a first estimate from its typical
   distance. The light-time equation is then solved to first order about
   that estimate. Against a solution iterated to convergence, the error
   stayed under 0.002 arcsecond at 3,000 random instants in 1800..2200.
5. Gravitational deflection of light by the Sun, then annual and diurnal
   aberration with the relativistic formula (ERFA's ld and ab, reproduced
   in the compiled loop).
6. Bias, precession and nutation to the true equator and equinox of date,
   with IAU 2006 precession and IAU 2000A nutation with the IAU 2006
   corrections (see nutation(), and ERFA's pn06). The true obliquity of
   date gives the ecliptic of date.
7. Azimuth and altitude from the local apparent sidereal time; refraction
   only when asked, with a standard atmosphere.

Geocentric values (ecliptic longitude and latitude, speed) are seen from the
Earth's centre. Right ascension, declination, azimuth and altitude are seen
from the observer (topocentric), where the Moon's parallax reaches 1 degree.
"""

import dataclasses
import functools
import math

import erfa
import numpy as np

from defrag import ephemeris, reductions, timescales

BODIES = ("sun", "moon", "mercury", "venus", "mars", "jupiter", "saturn", "uranus", "neptune", "pluto")

# Segments read in the single pass over the ephemeris: the Sun, a placeholder
# for the Moon (built from rows 10 and 11), and Mercury..Pluto. Then come the
# Earth-Moon barycentre and the geocentric Moon at the Moon's light-time
# estimate, and both again at the moment of observation for the Earth.
_PASS_SEGMENTS = np.array(
    [
        ephemeris.SEGMENT_INDEX[name]
        for name in (
            "sun", "earthmoon", "mercury", "venus", "mars", "jupiter", "saturn", "uranus", "neptune", "pluto",
            "earthmoon", "moon", "earthmoon", "moon",
        )
    ],
    dtype=np.intp,
)
_AU_LIGHT_DAYS = 149597870.7 / 299792.458 / 86400.0
# Typical geocentric distances in au (the Moon's in km), turned into light
# time in days: the first estimate of when each row's light left it.
_ESTIMATED_LIGHT_DAYS = np.array(
    [1.0, 384400.0 / 149597870.7, 1.0, 1.0, 1.5, 5.2, 9.5, 19.2, 30.1, 39.5, 384400.0 / 149597870.7, 384400.0 / 149597870.7, 0.0, 0.0]
) * _AU_LIGHT_DAYS

# One day before and after the kernel's span, so interpolation never runs off the table.
_NUTATION_TABLE_START = 2378479.5
_NUTATION_TABLE_END = 2524625.5
# TDB - TT = 0.001657 s sin(g), g = 357.53 + 0.98560028 (JD - 2451545) degrees,
# is its largest periodic term. The next is 0.022 ms, 2 cm of lunar motion.
_TDB_AMPLITUDE_DAYS = 0.001657 / 86400.0
_TDB_RATE = math.radians(0.98560028)
_TDB_PHASE = math.radians(357.53) - _TDB_RATE * 2451545.0
_EARTH_ROTATION_RAD_PER_SECOND = 7.292115e-5
_WGS84 = 1  # ERFA's identifier of the WGS84 ellipsoid
# The mean motion of the equinox along the ecliptic (general precession), in
# degrees per day, added to speeds because longitudes are of date.
PRECESSION_DEGREES_PER_DAY = 5028.796195 / 3600.0 / 36525.0

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


@dataclasses.dataclass(frozen=True)
class Place:
    """The observer on the WGS84 ellipsoid."""

    lat: float  # degrees, geodetic
    lon: float  # degrees, east positive
    elevation_meters: float


@dataclasses.dataclass(frozen=True)
class Positions:
    """Positions as arrays: (N,) per instant, or (N, 10) per body in the order of BODIES."""

    jd_tt: np.ndarray
    jd_ut1: np.ndarray
    # Topocentric, apparent, true equator and equinox of date.
    ra: np.ndarray  # degrees [0, 360)
    dec: np.ndarray
    distance_au: np.ndarray
    azimuth: np.ndarray  # degrees, 0 = north, 90 = east
    altitude: np.ndarray  # degrees, refracted only when the caller requests refraction
    airless_altitude: np.ndarray  # degrees, never refracted
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
    # Each row is read up to its light-time estimate (Pluto's is under 0.3 days)
    # before now, and TDB is within 2 ms of TT. The check comes first because
    # the compiled loops index the kernel and the nutation table without bounds checks.
    kernel.check_span(jd_tt, margin_days=1.0)
    dpsi, deps, jd_tdb = _nutation_and_tdb(jd_tt)
    mean_obliquity, _bias, _precession, _bias_precession, _nutation, npb = erfa.pn06(jd_tt, 0.0, dpsi, deps)
    gast = erfa.gst06(jd_ut1, 0.0, jd_tt, 0.0, npb)
    true_obliquity = mean_obliquity + deps

    per_body = np.empty((9, count, len(BODIES)))
    ra, dec, distance, azimuth, altitude, longitude, latitude, geocentric_distance, speed = per_body
    per_instant = np.empty((6, count))
    true_node, phase_angle, illuminated_fraction, elongation, local_sidereal_time, mean_node = per_instant
    flags = np.empty((2, count, len(BODIES)), dtype=np.bool_)
    retrograde, stationary = flags
    reductions.reduce_instants(
        jd_tdb, np.ascontiguousarray(npb), gast, true_obliquity, math.radians(place.lon), math.radians(place.lat),
        _terrestrial(place), kernel.coefficients, kernel.first_row, kernel.row_count, kernel.days_per_row,
        kernel.start_jd, _PASS_SEGMENTS, _ESTIMATED_LIGHT_DAYS, kernel.earth_share, kernel.light_speed_km_per_day,
        kernel.au_km, PRECESSION_DEGREES_PER_DAY,
        ra, dec, distance, azimuth, altitude, longitude, latitude, geocentric_distance, speed,
        true_node, phase_angle, illuminated_fraction, elongation, local_sidereal_time,
        jd_tt, dpsi, mean_node, _STATIONARY_LIMIT, retrograde, stationary,
    )
    return Positions(
        jd_tt=jd_tt,
        jd_ut1=jd_ut1,
        ra=ra,
        dec=dec,
        distance_au=distance,
        azimuth=azimuth,
        altitude=altitude + refraction_degrees(altitude) if refraction else altitude,
        airless_altitude=altitude,
        longitude=longitude,
        latitude=latitude,
        geocentric_distance_au=geocentric_distance,
        speed=speed,
        retrograde=retrograde,
        stationary=stationary,
        true_obliquity=np.degrees(true_obliquity),
        nutation_longitude=np.degrees(dpsi),
        local_sidereal_time=local_sidereal_time,
        mean_node=mean_node,
        true_node=true_node,
        moon_phase_angle=phase_angle,
        moon_illuminated_fraction=illuminated_fraction,
        moon_elongation=elongation,
    )


def motion_flags(speed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the speed (N, 10) with its retrograde and stationary flags, which are always false for the Sun and the Moon."""
    retrograde, stationary = np.empty((2, *speed.shape), dtype=np.bool_)
    reductions.motion_flags(np.ascontiguousarray(speed), _STATIONARY_LIMIT, retrograde, stationary)
    return speed, retrograde, stationary


def nutation(jd_tt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Compute the nutation in longitude and obliquity (radians), IAU 2000A with the IAU 2006 corrections.

    The full series (ERFA's nut06a, 1,365 terms) costs about 40 microseconds
    an instant, more than the rest of a chart's positions. So the 77-term
    IAU 2000B series (nut00b) is evaluated at each instant, and the
    difference between the two, which changes slowly, is interpolated from a
    table of daily values over the whole ephemeris. The result stays within
    0.0002 arcsecond of the full series (measured at 20,000 random instants
    in 1800..2200).
    """
    # The compiled lookup does not check bounds, and the table spans the kernel.
    ephemeris.kernel().check_span(jd_tt)
    dpsi, deps, _jd_tdb = _nutation_and_tdb(jd_tt)
    return dpsi, deps


def _nutation_and_tdb(jd_tt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compute the nutation (see nutation()) and the TDB Julian dates, in one compiled pass after ERFA's nut00b."""
    dpsi, deps = erfa.nut00b(jd_tt, 0.0)
    jd_tdb = np.empty(len(jd_tt))
    # The table has one row a day (value, change to the next day), so the day number is the index.
    reductions.tdb_and_nutation(
        jd_tt, dpsi, deps, nutation_correction(), _NUTATION_TABLE_START,
        _TDB_AMPLITUDE_DAYS, _TDB_PHASE, _TDB_RATE, jd_tdb,
    )
    return dpsi, deps, jd_tdb


@functools.cache
def nutation_correction() -> np.ndarray:
    """Load the daily table of nut06a - nut00b in radians from the cache folder, building it when missing.

    Shape (days, 4): the differences in longitude and obliquity, then how
    much each changes by the next day.
    """
    return ephemeris.cached_array("nutation-2000a-minus-2000b-v2", _nutation_difference)


def _nutation_difference() -> np.ndarray:
    days = _NUTATION_TABLE_START + np.arange(0.0, _NUTATION_TABLE_END - _NUTATION_TABLE_START + 1.0)
    difference = (np.array(erfa.nut06a(days, 0.0)) - np.array(erfa.nut00b(days, 0.0))).T
    change = np.zeros_like(difference)
    change[:-1] = difference[1:] - difference[:-1]
    return np.concatenate([difference, change], axis=1)


def refraction_degrees(altitude: np.ndarray) -> np.ndarray:
    """Return the refraction in degrees for an airless altitude in degrees, at 10 C and 1010 hPa (Saemundsson's formula).

    Below -1 degree the body is set and no refraction is added.
    """
    argument = np.radians(altitude + 10.3 / (altitude + 5.11))
    refraction = 1.02 / np.tan(argument) / 60.0
    return np.where(altitude > -1.0, refraction, 0.0)


@functools.lru_cache(maxsize=1024)
def _terrestrial(place: Place) -> np.ndarray:
    """Return the place's terrestrial position r (km) and rotation velocity omega z x r (km/day), shape (2, 3)."""
    x, y, z = np.asarray(erfa.gd2gc(_WGS84, math.radians(place.lon), math.radians(place.lat), place.elevation_meters)) / 1000.0
    omega = _EARTH_ROTATION_RAD_PER_SECOND * timescales.SECONDS_PER_DAY
    return np.array([[x, y, z], [-omega * y, omega * x, 0.0]])


