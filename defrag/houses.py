"""House cusps and angles of a chart from ARMC, geographic latitude and obliquity.

Inputs, all in degrees:
- ARMC: the right ascension of the upper meridian, that is the local apparent
  sidereal time (Greenwich apparent sidereal time plus east longitude).
- latitude: geographic (geodetic) latitude, north positive, in [-90, 90].
- obliquity: the true obliquity of the ecliptic of date, in (0, 90).

Outputs are ecliptic longitudes of date in [0, 360). The formulas are exact
spherical trigonometry, so the only error is floating-point rounding
(below 1e-9 arcsecond, measured). docs/houses.md states each definition.

The formulas are scalar `math` functions compiled by Numba. One chart and a
batch of charts run the same compiled loop (_charts), so a chart costs a few
microseconds instead of the tens that interpreted Python needs.

This module imports no gRPC and no Redis.
"""

import dataclasses
import math
from collections.abc import Sequence

import numba
import numpy as np

HOUSE_SYSTEMS = ("placidus", "koch", "porphyry", "regiomontanus", "campanus", "equal", "whole_sign")
DEFAULT_HOUSE_SYSTEM = "placidus"

# Systems built on diurnal and nocturnal semi-arcs, which do not exist for
# every ecliptic point above the polar circles.
SEMI_ARC_SYSTEMS = ("placidus", "koch")
POLAR_FALLBACK_SYSTEM = "porphyry"

_TWO_PI = 2.0 * math.pi

# Results this close to a multiple of 30° (3.6 microarcseconds) are set onto
# it. cos(270°) rounds to -1.8e-16 rather than 0, so without this an exact
# input such as ARMC 270 on the equator would give an ascendant of
# 359.99999999999997° (Pisces) instead of 0° Aries.
_BOUNDARY_SNAP_DEGREES = 1e-9

# Newton steps on the Placidus equation stop when a step moves the right
# ascension by less than this many radians (2e-8 arcsecond).
_NEWTON_TOLERANCE = 1e-13
_NEWTON_MAX_STEPS = 50

# Placidus cusps 11, 12, 2, 3: the hour angle east of the meridian is
# offset + share * AD, where AD is the ascensional difference. Cusp 11 sits a
# third of the diurnal semi-arc (90 + AD) east of the upper meridian, cusp
# 12 two thirds. Cusps 2 and 3 lie one and two thirds of the nocturnal
# semi-arc (90 - AD) below the horizon.
_PLACIDUS_OFFSETS = (math.radians(30.0), math.radians(60.0), math.radians(120.0), math.radians(150.0))
_PLACIDUS_SHARES = (1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0, 1.0 / 3.0)

# Koch cusps 11, 12, 2, 3 are ascendants at these multiples of a third of the
# midheaven's diurnal semi-arc away from the current ARMC.
_KOCH_STEPS = (-2.0, -1.0, 1.0, 2.0)

# Regiomontanus cusps 11, 12, 2, 3: house circles through the north and south
# points of the horizon and the equator point this far east of the meridian.
_REGIOMONTANUS_EQUATOR_OFFSETS = (math.radians(30.0), math.radians(60.0), math.radians(120.0), math.radians(150.0))

# Campanus cusps 11, 12, 2, 3: the house circle meets the prime vertical at
# this altitude in the east, and it is the horizon turned by the same angle
# about the north-south line.
_CAMPANUS_TILTS = (math.radians(60.0), math.radians(30.0), math.radians(-30.0), math.radians(-60.0))


@dataclasses.dataclass(frozen=True)
class Houses:
    """Angles and house cusps of one chart, as ecliptic longitudes of date in degrees."""

    system_requested: str
    system_used: str
    ascendant: float
    midheaven: float
    descendant: float
    imum_coeli: float
    vertex: float
    cusps: tuple[float, ...]
    warnings: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class HousesBatch:
    """Angles and house cusps of N charts.

    Each angle is an array of shape (N,) and `cusps` has shape (N, 12) with
    cusp 1 in column 0. `system_used` has one entry per chart, because a
    batch with varying latitude or obliquity can cross a polar circle.
    `warnings` has one message per chart that fell back, in chart order.
    """

    system_requested: str
    system_used: tuple[str, ...]
    ascendant: np.ndarray
    midheaven: np.ndarray
    descendant: np.ndarray
    imum_coeli: np.ndarray
    vertex: np.ndarray
    cusps: np.ndarray
    warnings: tuple[str, ...]


def compute_houses(system: str, armc_degrees: float, latitude_degrees: float, obliquity_degrees: float) -> Houses:
    """Compute the angles and the 12 cusps of one chart.

    Placidus and Koch fall back to Porphyry above the polar circles, with
    `system_used` set to "porphyry" and a warning. Raises ValueError for an
    unknown system or an input out of range.
    """
    values, system_used, warnings = chart_values(system, armc_degrees, latitude_degrees, obliquity_degrees)
    row = values.tolist()
    return Houses(
        system_requested=system,
        system_used=system_used,
        ascendant=row[0],
        midheaven=row[1],
        descendant=row[2],
        imum_coeli=row[3],
        vertex=row[4],
        cusps=tuple(row[5:]),
        warnings=warnings,
    )


def chart_values(
    system: str, armc_degrees: float, latitude_degrees: float, obliquity_degrees: float
) -> tuple[np.ndarray, str, tuple[str, ...]]:
    """Compute one chart as an array (17,): the five angles, then cusps 1..12; with the system used and the warnings.

    The angles are the ascendant, midheaven, descendant, imum coeli and
    vertex. compute_houses() wraps this in a Houses; callers that want
    arrays use it directly. Raises ValueError as compute_houses() does.
    """
    check_system(system)
    _check_inputs(armc_degrees, latitude_degrees, obliquity_degrees)

    system_used = system
    warnings: tuple[str, ...] = ()
    if system in SEMI_ARC_SYSTEMS and is_polar(latitude_degrees, obliquity_degrees):
        system_used = POLAR_FALLBACK_SYSTEM
        warnings = (polar_warning(system, latitude_degrees, obliquity_degrees),)

    values = np.empty((1, _VALUES))
    _charts(
        _SYSTEM_CODES[system_used],
        np.array([math.radians(armc_degrees) % _TWO_PI]),
        np.array([math.radians(latitude_degrees)]),
        np.array([math.radians(obliquity_degrees)]),
        values,
    )
    return values[0], system_used, warnings


def house_of(longitude_degrees: float, cusps: Sequence[float]) -> int:
    """Return the house (1..12) that contains an ecliptic longitude.

    House k runs from cusp k (included) forward in longitude to cusp k + 1
    (excluded), with cusp 13 meaning cusp 1, so houses of any width work
    across the 0/360 wrap.
    """
    if len(cusps) != 12:
        raise ValueError(f"cusps must contain 12 longitudes, cusp 1 first; got {len(cusps)}")

    for index in range(12):
        start = cusps[index]
        width = (cusps[(index + 1) % 12] - start) % 360.0
        if (longitude_degrees - start) % 360.0 < width:
            return index + 1

    raise ValueError(
        f"no house contains longitude {longitude_degrees}: the cusps {tuple(cusps)} "
        "do not run forward around the ecliptic; pass cusps from compute_houses()"
    )


def check_system(system: str) -> None:
    """Raise ValueError unless `system` is one of HOUSE_SYSTEMS."""
    if system not in HOUSE_SYSTEMS:
        raise ValueError(f"unknown house system {system!r}: use one of {', '.join(HOUSE_SYSTEMS)}")


def is_polar(latitude_degrees: float, obliquity_degrees: float) -> bool:
    """Return True above a polar circle, where |latitude| > 90° − obliquity."""
    return abs(latitude_degrees) > 90.0 - obliquity_degrees


def polar_warning(system: str, latitude_degrees: float, obliquity_degrees: float) -> str:
    """Return the message that explains a fallback from Placidus or Koch to Porphyry."""
    return (
        f"{system} houses are undefined at latitude {latitude_degrees:.4f}°, above the polar circle "
        f"(|latitude| > 90° − obliquity = {90.0 - obliquity_degrees:.4f}°), because some ecliptic "
        f"points there never rise or never set. {POLAR_FALLBACK_SYSTEM.capitalize()} cusps are returned instead."
    )


def _check_inputs(armc_degrees: float, latitude_degrees: float, obliquity_degrees: float) -> None:
    if not math.isfinite(armc_degrees):
        raise ValueError(f"armc_degrees must be a finite number of degrees; got {armc_degrees}")
    if not -90.0 <= latitude_degrees <= 90.0:
        raise ValueError(f"latitude_degrees must be in [-90, 90]; got {latitude_degrees}")
    if not 0.0 < obliquity_degrees < 90.0:
        raise ValueError(f"obliquity_degrees must be in (0, 90), near 23.44 today; got {obliquity_degrees}")


@numba.njit(cache=True)
def _degrees(radians: float) -> float:
    """Convert to degrees in [0, 360), set onto a sign boundary when within _BOUNDARY_SNAP_DEGREES."""
    degrees = math.degrees(radians) % 360.0
    boundary = round(degrees / 30.0) * 30.0
    if abs(degrees - boundary) < _BOUNDARY_SNAP_DEGREES:
        degrees = boundary
    # 360.0 itself can come from the rounding or from -1e-17 % 360.
    return degrees % 360.0


# ---------------------------------------------------------------------------
# Angles and the intersection of the ecliptic with a great circle.
#
# Vectors are unit vectors in the equatorial frame of date: x towards the
# equinox, z towards the north celestial pole. With theta = ARMC and
# phi = latitude:
#   zenith       Z = ( cos(phi) cos(theta),  cos(phi) sin(theta), sin(phi))
#   east point   E = (-sin(theta),           cos(theta),          0)
#   north point  N = (-sin(phi) cos(theta), -sin(phi) sin(theta), cos(phi))
# E is also the pole of the meridian, so a point lies east of the meridian
# exactly when its dot product with E is positive.
# ---------------------------------------------------------------------------


@numba.njit(cache=True)
def _ecliptic_crossing(pole_x, pole_y, pole_z, side_x, side_y, eps):
    """Return the longitude where the ecliptic crosses a great circle, on one chosen side.

    (pole_x, pole_y, pole_z) is the circle's pole in the equatorial frame.
    The ecliptic meets the circle at two opposite points; the one returned
    has a positive dot product with the equatorial vector (side_x, side_y, 0).
    """
    sin_eps = math.sin(eps)
    cos_eps = math.cos(eps)

    # The pole in the ecliptic frame (a rotation by eps about the x axis).
    # The crossing is the ecliptic pole crossed with it: (-pole_y_ecl, pole_x, 0).
    pole_y_ecl = pole_y * cos_eps + pole_z * sin_eps
    crossing_x = -pole_y_ecl
    crossing_y = pole_x

    # The side vector in the ecliptic frame is (side_x, side_y cos_eps, -side_y sin_eps).
    if crossing_x * side_x + crossing_y * side_y * cos_eps < 0.0:
        crossing_x = -crossing_x
        crossing_y = -crossing_y
    return math.atan2(crossing_y, crossing_x)


@numba.njit(cache=True)
def _ascendant(theta: float, phi: float, eps: float) -> float:
    """Return the ecliptic point on the eastern half of the horizon.

    Below the polar circles this is the usual formula
    atan2(cos(theta), -(sin(theta) cos(eps) + tan(phi) sin(eps))). Above them
    that formula gives the western point for some ARMC, and the side test
    adds 180° there.
    """
    cos_phi = math.cos(phi)
    sin_theta = math.sin(theta)
    cos_theta = math.cos(theta)
    return _ecliptic_crossing(
        cos_phi * cos_theta, cos_phi * sin_theta, math.sin(phi), -sin_theta, cos_theta, eps
    )


@numba.njit(cache=True)
def _midheaven(theta: float, eps: float) -> float:
    """Return the ecliptic point on the upper meridian (hour angle 0, right ascension = ARMC).

    Above the polar circles this point can lie below the horizon.
    """
    return math.atan2(math.sin(theta), math.cos(theta) * math.cos(eps))


@numba.njit(cache=True)
def _vertex(theta: float, phi: float, eps: float) -> float:
    """Return the ecliptic point on the western half of the prime vertical.

    The prime vertical's pole is the north point of the horizon. On the
    equator the prime vertical is the celestial equator, so the vertex is
    the equinox west of the meridian.
    """
    sin_phi = math.sin(phi)
    sin_theta = math.sin(theta)
    cos_theta = math.cos(theta)
    return _ecliptic_crossing(
        -sin_phi * cos_theta, -sin_phi * sin_theta, math.cos(phi), sin_theta, -cos_theta, eps
    )


@numba.njit(cache=True)
def _tilted_horizon_crossing(theta: float, phi: float, eps: float, tilt: float) -> float:
    """Return the ecliptic crossing, east of the meridian, of a house circle.

    The circle is the horizon turned by `tilt` about the north-south line, its
    eastern half raised for a positive tilt. Its pole is then
    cos(tilt) Z + sin(tilt) W, where W = -E is the west point.
    """
    cos_tilt = math.cos(tilt)
    sin_tilt = math.sin(tilt)
    cos_phi = math.cos(phi)
    sin_theta = math.sin(theta)
    cos_theta = math.cos(theta)
    pole_x = cos_tilt * cos_phi * cos_theta + sin_tilt * sin_theta
    pole_y = cos_tilt * cos_phi * sin_theta - sin_tilt * cos_theta
    pole_z = cos_tilt * math.sin(phi)
    return _ecliptic_crossing(pole_x, pole_y, pole_z, -sin_theta, cos_theta, eps)


# ---------------------------------------------------------------------------
# Cusps. Each function returns 12 longitudes in radians, cusp 1 first.
# ---------------------------------------------------------------------------


@numba.njit(cache=True)
def _quadrant_cusps(ascendant, midheaven, cusp_11, cusp_12, cusp_2, cusp_3):
    """Complete a quadrant system: cusps 4..9 lie opposite cusps 10..3."""
    pi = math.pi
    return (
        ascendant, cusp_2, cusp_3, midheaven + pi, cusp_11 + pi, cusp_12 + pi,
        ascendant + pi, cusp_2 + pi, cusp_3 + pi, midheaven, cusp_11, cusp_12,
    )


@numba.njit(cache=True)
def _placidus_cusp(theta, k, cos_eps, offset, share):
    # Cusp 11 is the ecliptic point whose hour angle east of the meridian is
    # a third of its diurnal semi-arc, so with right ascension a,
    # declination d and ascensional difference AD = asin(tan(phi) tan(d)):
    #   f(a) = a - theta - offset - share * AD = 0.
    # On the ecliptic tan(d) = tan(eps) sin(a), so AD = asin(k sin(a)) with
    # k = tan(phi) tan(eps). Below the polar circles |k| <= 1, and then
    # f'(a) >= 1 - share * |k| >= 1/3: f rises strictly, has exactly one root,
    # and Newton's method converges in a few steps.
    ra = theta + offset + share * math.asin(_clamp(k * math.sin(theta + offset)))
    for _ in range(_NEWTON_MAX_STEPS):
        sin_ra = math.sin(ra)
        k_sin = _clamp(k * sin_ra)
        slope = 1.0 - share * k * math.cos(ra) / max(math.sqrt(1.0 - k_sin * k_sin), 1e-300)
        step = (ra - theta - offset - share * math.asin(k_sin)) / slope
        ra -= step
        if abs(step) < _NEWTON_TOLERANCE:
            break
    return math.atan2(math.sin(ra), math.cos(ra) * cos_eps)


@numba.njit(cache=True)
def _placidus_cusps(theta, phi, eps, ascendant, midheaven):
    k = math.tan(phi) * math.tan(eps)
    cos_eps = math.cos(eps)
    offsets, shares = _PLACIDUS_OFFSETS, _PLACIDUS_SHARES
    return _quadrant_cusps(
        ascendant,
        midheaven,
        _placidus_cusp(theta, k, cos_eps, offsets[0], shares[0]),
        _placidus_cusp(theta, k, cos_eps, offsets[1], shares[1]),
        _placidus_cusp(theta, k, cos_eps, offsets[2], shares[2]),
        _placidus_cusp(theta, k, cos_eps, offsets[3], shares[3]),
    )


@numba.njit(cache=True)
def _koch_cusps(theta, phi, eps, ascendant, midheaven):
    # The midheaven degree rose one diurnal semi-arc (DSA) of sidereal time
    # ago, so the ascendant at ARMC - DSA is the midheaven itself. Koch
    # cusps 11 and 12 are the ascendants at ARMC - 2 DSA/3 and ARMC - DSA/3.
    # Cusps 2 and 3 mirror them at ARMC + DSA/3 and ARMC + 2 DSA/3.
    sin_declination = math.sin(eps) * math.sin(midheaven)
    tan_declination = sin_declination / math.sqrt(1.0 - sin_declination * sin_declination)
    semi_arc = 0.5 * math.pi + math.asin(_clamp(math.tan(phi) * tan_declination))
    third = semi_arc / 3.0
    steps = _KOCH_STEPS
    return _quadrant_cusps(
        ascendant,
        midheaven,
        _ascendant(theta + steps[0] * third, phi, eps),
        _ascendant(theta + steps[1] * third, phi, eps),
        _ascendant(theta + steps[2] * third, phi, eps),
        _ascendant(theta + steps[3] * third, phi, eps),
    )


@numba.njit(cache=True)
def _porphyry_cusps(theta, phi, eps, ascendant, midheaven):
    # Trisect the ecliptic arcs from the midheaven forward to the ascendant
    # and from the ascendant forward to the imum coeli.
    upper = (ascendant - midheaven) % _TWO_PI
    lower = math.pi - upper
    return _quadrant_cusps(
        ascendant,
        midheaven,
        midheaven + upper / 3.0,
        midheaven + 2.0 * upper / 3.0,
        ascendant + lower / 3.0,
        ascendant + 2.0 * lower / 3.0,
    )


@numba.njit(cache=True)
def _regiomontanus_tilt(phi, offset):
    # The house circle through the equator point H east of the meridian is
    # the horizon tilted by t with tan(t) = cos(phi) cot(H): its pole
    # cos(t) Z + sin(t) W is then perpendicular to that equator point.
    return math.atan2(math.cos(phi) * math.cos(offset), math.sin(offset))


@numba.njit(cache=True)
def _regiomontanus_cusps(theta, phi, eps, ascendant, midheaven):
    offsets = _REGIOMONTANUS_EQUATOR_OFFSETS
    return _quadrant_cusps(
        ascendant,
        midheaven,
        _tilted_horizon_crossing(theta, phi, eps, _regiomontanus_tilt(phi, offsets[0])),
        _tilted_horizon_crossing(theta, phi, eps, _regiomontanus_tilt(phi, offsets[1])),
        _tilted_horizon_crossing(theta, phi, eps, _regiomontanus_tilt(phi, offsets[2])),
        _tilted_horizon_crossing(theta, phi, eps, _regiomontanus_tilt(phi, offsets[3])),
    )


@numba.njit(cache=True)
def _campanus_cusps(theta, phi, eps, ascendant, midheaven):
    tilts = _CAMPANUS_TILTS
    return _quadrant_cusps(
        ascendant,
        midheaven,
        _tilted_horizon_crossing(theta, phi, eps, tilts[0]),
        _tilted_horizon_crossing(theta, phi, eps, tilts[1]),
        _tilted_horizon_crossing(theta, phi, eps, tilts[2]),
        _tilted_horizon_crossing(theta, phi, eps, tilts[3]),
    )


@numba.njit(cache=True)
def _equal_cusps(first):
    """Twelve cusps 30 degrees apart, starting at `first` (radians)."""
    step = math.pi / 6.0
    return (
        first, first + step, first + 2.0 * step, first + 3.0 * step, first + 4.0 * step, first + 5.0 * step,
        first + 6.0 * step, first + 7.0 * step, first + 8.0 * step, first + 9.0 * step, first + 10.0 * step,
        first + 11.0 * step,
    )


@numba.njit(cache=True)
def _cusps(code, theta, phi, eps, ascendant, midheaven):
    """Return the 12 cusps in radians of the system with this index in HOUSE_SYSTEMS."""
    if code == 0:
        return _placidus_cusps(theta, phi, eps, ascendant, midheaven)
    if code == 1:
        return _koch_cusps(theta, phi, eps, ascendant, midheaven)
    if code == 2:
        return _porphyry_cusps(theta, phi, eps, ascendant, midheaven)
    if code == 3:
        return _regiomontanus_cusps(theta, phi, eps, ascendant, midheaven)
    if code == 4:
        return _campanus_cusps(theta, phi, eps, ascendant, midheaven)
    if code == 5:
        return _equal_cusps(ascendant)
    # Whole Sign: cusp 1 at 0 degrees of the ascendant's sign.
    return _equal_cusps(math.radians(math.floor(_degrees(ascendant) / 30.0) * 30.0))


@numba.njit(cache=True)
def _charts(code, theta, phi, eps, values):
    """Fill values (N, 17) with the angles and cusps in degrees of N charts of one system.

    Columns: ascendant, midheaven, descendant, imum coeli, vertex, cusps 1..12.
    """
    for n in range(theta.shape[0]):
        ascendant = _ascendant(theta[n], phi[n], eps[n])
        midheaven = _midheaven(theta[n], eps[n])
        values[n, 0] = _degrees(ascendant)
        values[n, 1] = _degrees(midheaven)
        values[n, 2] = _degrees(ascendant + math.pi)
        values[n, 3] = _degrees(midheaven + math.pi)
        values[n, 4] = _degrees(_vertex(theta[n], phi[n], eps[n]))
        cusps = _cusps(code, theta[n], phi[n], eps[n], ascendant, midheaven)
        for k in range(12):
            values[n, 5 + k] = _degrees(cusps[k])


@numba.njit(cache=True)
def _clamp(value: float) -> float:
    # On the polar circle itself, rounding can push |tan(phi) tan(eps)| slightly above 1.
    return min(1.0, max(-1.0, value))


_SYSTEM_CODES = {name: index for index, name in enumerate(HOUSE_SYSTEMS)}
# Angles (5) and cusps (12) per chart.
_VALUES = 17


# ---------------------------------------------------------------------------
# Batch path: the formulas above on NumPy arrays of shape (N,).
# ---------------------------------------------------------------------------


def compute_houses_batch(
    system: str,
    armc_degrees: np.ndarray,
    latitude_degrees: float | np.ndarray,
    obliquity_degrees: float | np.ndarray,
) -> HousesBatch:
    """Compute the angles and cusps of N charts at once.

    `armc_degrees` has shape (N,). Latitude and obliquity are scalars or
    arrays of shape (N,). Charts above a polar circle fall back from
    Placidus or Koch to Porphyry one by one, as in compute_houses().
    """
    check_system(system)
    armc = np.atleast_1d(np.asarray(armc_degrees, dtype=float))
    latitude = np.broadcast_to(np.asarray(latitude_degrees, dtype=float), armc.shape)
    obliquity = np.broadcast_to(np.asarray(obliquity_degrees, dtype=float), armc.shape)
    _check_batch_inputs(armc, latitude, obliquity)

    theta = np.radians(armc) % _TWO_PI
    phi = np.ascontiguousarray(np.radians(latitude))
    eps = np.ascontiguousarray(np.radians(obliquity))
    polar = np.zeros(armc.shape, dtype=bool)
    if system in SEMI_ARC_SYSTEMS:
        polar = np.abs(latitude) > 90.0 - obliquity

    values = np.empty((len(armc), _VALUES))
    _charts(_SYSTEM_CODES[system], theta, phi, eps, values)
    if polar.any():
        # Charts above a polar circle take Porphyry cusps instead.
        fallback = np.empty((int(polar.sum()), _VALUES))
        _charts(_SYSTEM_CODES[POLAR_FALLBACK_SYSTEM], theta[polar], phi[polar], eps[polar], fallback)
        values[polar] = fallback

    system_used = tuple(POLAR_FALLBACK_SYSTEM if is_fallback else system for is_fallback in polar)
    warnings = tuple(
        polar_warning(system, float(latitude[index]), float(obliquity[index])) for index in np.flatnonzero(polar)
    )
    return HousesBatch(
        system_requested=system,
        system_used=system_used,
        ascendant=values[:, 0],
        midheaven=values[:, 1],
        descendant=values[:, 2],
        imum_coeli=values[:, 3],
        vertex=values[:, 4],
        cusps=values[:, 5:],
        warnings=warnings,
    )


def _check_batch_inputs(armc: np.ndarray, latitude: np.ndarray, obliquity: np.ndarray) -> None:
    if armc.ndim != 1:
        raise ValueError(f"armc_degrees must be a 1-D array of charts; got shape {armc.shape}")
    if not np.isfinite(armc).all():
        raise ValueError("armc_degrees must contain only finite numbers of degrees; found NaN or infinity")
    if not ((latitude >= -90.0) & (latitude <= 90.0)).all():
        raise ValueError(f"latitude_degrees must be in [-90, 90]; got values from {latitude.min()} to {latitude.max()}")
    if not ((obliquity > 0.0) & (obliquity < 90.0)).all():
        raise ValueError(
            f"obliquity_degrees must be in (0, 90), near 23.44 today; got values from {obliquity.min()} to {obliquity.max()}"
        )
