"""Apparent topocentric positions of the Sun, the Moon and the planets, from astronomy-engine.

Frames and units of every BodyPosition:
- right ascension and declination, in degrees: the apparent place seen from
  the observer's location (topocentric parallax). It is corrected for light
  time and aberration and referred to the true equator and equinox of date.
- distance, in astronomical units: from the observer to the body's centre.
- azimuth and altitude, in degrees: horizontal frame with azimuth 0 = north
  and 90 = east. Altitude is airless unless refraction is requested.

The engine takes the instant as UT1. This module passes UTC, which differs
from UT1 by less than 0.9 s, so hour angles move by at most about 14
arcseconds. The engine adds its own Delta T model (Espenak and Meeus
polynomials) to get Terrestrial Time.

This module imports no gRPC and no Redis.
"""

import dataclasses
import datetime as dt
import importlib.metadata
import math

import astronomy

from defrag.localtime import InvalidField

BODIES = ("sun", "moon", "mercury", "venus", "mars", "jupiter", "saturn", "uranus", "neptune", "pluto")
_ENGINE_BODIES = {name: astronomy.Body[name.capitalize()] for name in BODIES}

# Years of the local (Gregorian) date that the service accepts. astronomy-engine
# states about 1 arcminute of accuracy, checked against NOVAS C 3.1 with JPL
# DE405 (an ephemeris covering 1600..2200), and names no date range of its own.
# NOTE: the limits are a choice, not a tested bound. Delta T (TT - UT) is less
# certain before 1700 and only predicted after the present. Each second of error
# moves the Moon by about 0.5 arcsecond, so two minutes near 2200 would cost
# about 1 arcminute (an estimate).
FIRST_YEAR = 1700
LAST_YEAR = 2200

LATITUDE_RANGE = (-90.0, 90.0)
LONGITUDE_RANGE = (-180.0, 180.0)
ELEVATION_RANGE_METERS = (-500.0, 10000.0)

# Accuracy class of the positions, defined in the API reference.
PRECISION = "arcminute"


@dataclasses.dataclass(frozen=True)
class Source:
    """The engine and ephemeris that produce the positions."""

    engine: str
    engine_version: str
    ephemeris: str


# Models as astronomy-engine 2.1.19 implements them, per its README and source.
# The Earth and the planets Mercury..Neptune use truncated VSOP87 series, and the
# Sun's place follows from the Earth's. The Moon uses the Improved Lunar Ephemeris
# of 1954 as adapted by Montenbruck and Pfleger. Pluto comes from the engine's own
# gravity simulation of the outer planets.
SOURCE = Source(
    engine="astronomy-engine",
    engine_version=importlib.metadata.version("astronomy-engine"),
    ephemeris=(
        "VSOP87, truncated by astronomy-engine, for the Sun and Mercury..Neptune; "
        "Moon from the Improved Lunar Ephemeris (1954) as adapted by Montenbruck and Pfleger; "
        "Pluto from astronomy-engine's gravity simulation of the outer planets"
    ),
)


@dataclasses.dataclass(frozen=True)
class Observer:
    """A place on the Earth: geodetic latitude and longitude in degrees, height in metres."""

    lat: float
    lon: float
    elevation_meters: float = 0.0


@dataclasses.dataclass(frozen=True)
class BodyPosition:
    """One body as seen from the observer, with angles in degrees and the distance in AU."""

    body: str
    ra_degrees: float
    dec_degrees: float
    distance_au: float
    azimuth_degrees: float
    altitude_degrees: float
    biological_pressure_score: float


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


def biological_pressure_score(airless_altitude_degrees: float) -> float:
    """Return sin(altitude) clipped to 0..1: 0 at or below the horizon, 1 at the zenith.

    It uses the airless altitude, so the refraction option does not change it.
    It is a geometric index, not a physiological measurement.
    """
    return max(0.0, math.sin(math.radians(airless_altitude_degrees)))


def compute_positions(instant: dt.datetime, observer: Observer, *, refraction: bool = False) -> list[BodyPosition]:
    """Compute every body in BODIES, in that order, for an aware instant and a place.

    Raises ValueError for a naive instant, an invalid observer, or an instant
    outside FIRST_YEAR..LAST_YEAR with one year of margin, which leaves room
    for a local date at the edge of the range shifted by its UTC offset.
    """
    _check_instant(instant)
    errors = validate_observer(observer.lat, observer.lon, observer.elevation_meters)
    if errors:
        raise ValueError("; ".join(str(error) for error in errors))

    time = _engine_time(instant)
    place = astronomy.Observer(observer.lat, observer.lon, observer.elevation_meters)
    return [_position(name, time, place, refraction) for name in BODIES]


def _position(name: str, time: astronomy.Time, place: astronomy.Observer, refraction: bool) -> BodyPosition:
    equatorial = astronomy.Equator(_ENGINE_BODIES[name], time, place, ofdate=True, aberration=True)
    horizontal = astronomy.Horizon(time, place, equatorial.ra, equatorial.dec, astronomy.Refraction.Airless)

    altitude = horizontal.altitude
    if refraction:
        # The same lift that Horizon(..., Refraction.Normal) applies: Saemundsson's
        # formula for standard conditions at sea level, clamped 1 degree below the
        # horizon. RA and Dec stay unrefracted.
        altitude += astronomy.RefractionAngle(astronomy.Refraction.Normal, altitude)

    return BodyPosition(
        body=name,
        # The engine returns hours in [0, 24); the modulo keeps a product that
        # rounds up to 360.0 inside [0, 360).
        ra_degrees=(equatorial.ra * 15.0) % 360.0,
        dec_degrees=equatorial.dec,
        distance_au=equatorial.dist,
        azimuth_degrees=horizontal.azimuth,
        altitude_degrees=altitude,
        biological_pressure_score=biological_pressure_score(horizontal.altitude),
    )


def _check_instant(instant: dt.datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"instant {instant.isoformat()} has no UTC offset: pass an aware datetime")
    year = instant.astimezone(dt.UTC).year
    if not FIRST_YEAR - 1 <= year <= LAST_YEAR + 1:
        raise ValueError(f"year {year} is outside {FIRST_YEAR}..{LAST_YEAR}, the supported range: pass an instant inside it")


def _engine_time(instant: dt.datetime) -> astronomy.Time:
    utc = instant.astimezone(dt.UTC)
    second = utc.second + utc.microsecond / 1_000_000
    return astronomy.Time.Make(utc.year, utc.month, utc.day, utc.hour, utc.minute, second)
