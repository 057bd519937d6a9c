"""House cusps and angles of a chart from ARMC, geographic latitude and obliquity.

Inputs, all in degrees:
- ARMC: the right ascension of the upper meridian, that is the local apparent
  sidereal time (Greenwich apparent sidereal time plus east longitude).
- latitude: geographic (geodetic) latitude, north positive, in [-90, 90].
- obliquity: the true obliquity of the ecliptic of date, in (0, 90).

Outputs are ecliptic longitudes of date in [0, 360). The formulas are exact
spherical trigonometry, so the only error is floating-point rounding
(below 1e-9 arcsecond, measured). docs/houses.md states each definition.

compute_houses() is pure `math` for one chart. compute_houses_batch() runs
the same formulas with NumPy over arrays of charts.

This module imports no gRPC and no Redis.
"""

import dataclasses
import math
from collections.abc import Sequence

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
    check_system(system)
    _check_inputs(armc_degrees, latitude_degrees, obliquity_degrees)

    theta = math.radians(armc_degrees) % _TWO_PI
    phi = math.radians(latitude_degrees)
    eps = math.radians(obliquity_degrees)

    ascendant = _ascendant(theta, phi, eps)
    midheaven = _midheaven(theta, eps)
    vertex = _vertex(theta, phi, eps)

    system_used = system
    warnings: tuple[str, ...] = ()
    if system in SEMI_ARC_SYSTEMS and is_polar(latitude_degrees, obliquity_degrees):
        system_used = POLAR_FALLBACK_SYSTEM
        warnings = (polar_warning(system, latitude_degrees, obliquity_degrees),)

    cusps = _CUSP_FUNCTIONS[system_used](theta, phi, eps, ascendant, midheaven)
    return Houses(
        system_requested=system,
        system_used=system_used,
        ascendant=_degrees(ascendant),
        midheaven=_degrees(midheaven),
        descendant=_degrees(ascendant + math.pi),
        imum_coeli=_degrees(midheaven + math.pi),
        vertex=_degrees(vertex),
        cusps=tuple(_degrees(cusp) for cusp in cusps),
        warnings=warnings,
    )


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


def _midheaven(theta: float, eps: float) -> float:
    """Return the ecliptic point on the upper meridian (hour angle 0, right ascension = ARMC).

    Above the polar circles this point can lie below the horizon.
    """
    return math.atan2(math.sin(theta), math.cos(theta) * math.cos(eps))


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


def _quadrant_cusps(ascendant, midheaven, cusp_11, cusp_12, cusp_2, cusp_3):
    """Complete a quadrant system: cusps 4..9 lie opposite cusps 10..3."""
    pi = math.pi
    return (
        ascendant, cusp_2, cusp_3, midheaven + pi, cusp_11 + pi, cusp_12 + pi,
        ascendant + pi, cusp_2 + pi, cusp_3 + pi, midheaven, cusp_11, cusp_12,
    )


def _placidus_cusps(theta, phi, eps, ascendant, midheaven):
    # Cusp 11 is the ecliptic point whose hour angle east of the meridian is
    # a third of its diurnal semi-arc, so with right ascension a,
    # declination d and ascensional difference AD = asin(tan(phi) tan(d)):
    #   f(a) = a - theta - offset - share * AD = 0.
    # On the ecliptic tan(d) = tan(eps) sin(a), so AD = asin(k sin(a)) with
    # k = tan(phi) tan(eps). Below the polar circles |k| <= 1, and then
    # f'(a) >= 1 - share * |k| >= 1/3: f rises strictly, has exactly one root,
    # and Newton's method converges in a few steps.
    k = math.tan(phi) * math.tan(eps)
    cos_eps = math.cos(eps)
    cusps = []
    for offset, share in zip(_PLACIDUS_OFFSETS, _PLACIDUS_SHARES):
        ra = theta + offset + share * math.asin(_clamp(k * math.sin(theta + offset)))
        for _ in range(_NEWTON_MAX_STEPS):
            sin_ra = math.sin(ra)
            k_sin = _clamp(k * sin_ra)
            slope = 1.0 - share * k * math.cos(ra) / max(math.sqrt(1.0 - k_sin * k_sin), 1e-300)
            step = (ra - theta - offset - share * math.asin(k_sin)) / slope
            ra -= step
            if abs(step) < _NEWTON_TOLERANCE:
                break
        cusps.append(math.atan2(math.sin(ra), math.cos(ra) * cos_eps))
    return _quadrant_cusps(ascendant, midheaven, *cusps)


def _koch_cusps(theta, phi, eps, ascendant, midheaven):
    # The midheaven degree rose one diurnal semi-arc (DSA) of sidereal time
    # ago, so the ascendant at ARMC - DSA is the midheaven itself. Koch
    # cusps 11 and 12 are the ascendants at ARMC - 2 DSA/3 and ARMC - DSA/3.
    # Cusps 2 and 3 mirror them at ARMC + DSA/3 and ARMC + 2 DSA/3.
    sin_declination = math.sin(eps) * math.sin(midheaven)
    tan_declination = sin_declination / math.sqrt(1.0 - sin_declination * sin_declination)
    semi_arc = 0.5 * math.pi + math.asin(_clamp(math.tan(phi) * tan_declination))
    third = semi_arc / 3.0
    cusps = [_ascendant(theta + step * third, phi, eps) for step in _KOCH_STEPS]
    return _quadrant_cusps(ascendant, midheaven, *cusps)


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


def _regiomontanus_cusps(theta, phi, eps, ascendant, midheaven):
    # The house circle through the equator point H east of the meridian is
    # the horizon tilted by t with tan(t) = cos(phi) cot(H): its pole
    # cos(t) Z + sin(t) W is then perpendicular to that equator point.
    cos_phi = math.cos(phi)
    cusps = [
        _tilted_horizon_crossing(theta, phi, eps, math.atan2(cos_phi * math.cos(offset), math.sin(offset)))
        for offset in _REGIOMONTANUS_EQUATOR_OFFSETS
    ]
    return _quadrant_cusps(ascendant, midheaven, *cusps)


def _campanus_cusps(theta, phi, eps, ascendant, midheaven):
    cusps = [_tilted_horizon_crossing(theta, phi, eps, tilt) for tilt in _CAMPANUS_TILTS]
    return _quadrant_cusps(ascendant, midheaven, *cusps)


def _equal_cusps(theta, phi, eps, ascendant, midheaven):
    step = math.pi / 6.0
    return tuple(ascendant + index * step for index in range(12))


def _whole_sign_cusps(theta, phi, eps, ascendant, midheaven):
    step = math.pi / 6.0
    first = math.radians(math.floor(_degrees(ascendant) / 30.0) * 30.0)
    return tuple(first + index * step for index in range(12))


def _clamp(value: float) -> float:
    # On the polar circle itself, rounding can push |tan(phi) tan(eps)| slightly above 1.
    return min(1.0, max(-1.0, value))


_CUSP_FUNCTIONS = {
    "placidus": _placidus_cusps,
    "koch": _koch_cusps,
    "porphyry": _porphyry_cusps,
    "regiomontanus": _regiomontanus_cusps,
    "campanus": _campanus_cusps,
    "equal": _equal_cusps,
    "whole_sign": _whole_sign_cusps,
}


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
    phi = np.radians(latitude)
    eps = np.radians(obliquity)
    ascendant = _ascendant_batch(theta, phi, eps)
    midheaven = np.arctan2(np.sin(theta), np.cos(theta) * np.cos(eps))
    vertex = _vertex_batch(theta, phi, eps)

    polar = np.zeros(armc.shape, dtype=bool)
    if system in SEMI_ARC_SYSTEMS:
        polar = np.abs(latitude) > 90.0 - obliquity
    cusps = _CUSP_FUNCTIONS_BATCH[system](theta, phi, eps, ascendant, midheaven, ~polar)
    if polar.any():
        fallback = _porphyry_cusps_batch(theta, phi, eps, ascendant, midheaven, polar)
        cusps = np.where(polar[:, None], fallback, cusps)

    system_used = tuple(POLAR_FALLBACK_SYSTEM if is_fallback else system for is_fallback in polar)
    warnings = tuple(
        polar_warning(system, float(latitude[index]), float(obliquity[index])) for index in np.flatnonzero(polar)
    )
    return HousesBatch(
        system_requested=system,
        system_used=system_used,
        ascendant=_degrees_batch(ascendant),
        midheaven=_degrees_batch(midheaven),
        descendant=_degrees_batch(ascendant + math.pi),
        imum_coeli=_degrees_batch(midheaven + math.pi),
        vertex=_degrees_batch(vertex),
        cusps=_degrees_batch(cusps),
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


def _degrees_batch(radians: np.ndarray) -> np.ndarray:
    degrees = np.degrees(radians) % 360.0
    boundary = np.round(degrees / 30.0) * 30.0
    degrees = np.where(np.abs(degrees - boundary) < _BOUNDARY_SNAP_DEGREES, boundary, degrees)
    return degrees % 360.0


def _ecliptic_crossing_batch(pole_x, pole_y, pole_z, side_x, side_y, eps):
    cos_eps = np.cos(eps)
    crossing_x = -(pole_y * cos_eps + pole_z * np.sin(eps))
    crossing_y = pole_x
    sign = np.where(crossing_x * side_x + crossing_y * side_y * cos_eps < 0.0, -1.0, 1.0)
    return np.arctan2(sign * crossing_y, sign * crossing_x)


def _ascendant_batch(theta, phi, eps):
    cos_phi = np.cos(phi)
    sin_theta = np.sin(theta)
    cos_theta = np.cos(theta)
    return _ecliptic_crossing_batch(cos_phi * cos_theta, cos_phi * sin_theta, np.sin(phi), -sin_theta, cos_theta, eps)


def _vertex_batch(theta, phi, eps):
    sin_phi = np.sin(phi)
    sin_theta = np.sin(theta)
    cos_theta = np.cos(theta)
    return _ecliptic_crossing_batch(-sin_phi * cos_theta, -sin_phi * sin_theta, np.cos(phi), sin_theta, -cos_theta, eps)


def _tilted_horizon_crossing_batch(theta, phi, eps, tilt):
    # theta, phi, eps have shape (N, 1) and tilt has shape (N, 4) or (4,).
    cos_tilt = np.cos(tilt)
    sin_tilt = np.sin(tilt)
    cos_phi = np.cos(phi)
    sin_theta = np.sin(theta)
    cos_theta = np.cos(theta)
    pole_x = cos_tilt * cos_phi * cos_theta + sin_tilt * sin_theta
    pole_y = cos_tilt * cos_phi * sin_theta - sin_tilt * cos_theta
    pole_z = cos_tilt * np.sin(phi)
    return _ecliptic_crossing_batch(pole_x, pole_y, pole_z, -sin_theta, cos_theta, eps)


def _quadrant_cusps_batch(ascendant, midheaven, inner):
    """Assemble (N, 12) cusps from the angles and `inner` cusps 11, 12, 2, 3 of shape (N, 4)."""
    pi = math.pi
    cusp_11, cusp_12, cusp_2, cusp_3 = inner.T
    return np.stack(
        [
            ascendant, cusp_2, cusp_3, midheaven + pi, cusp_11 + pi, cusp_12 + pi,
            ascendant + pi, cusp_2 + pi, cusp_3 + pi, midheaven, cusp_11, cusp_12,
        ],
        axis=1,
    )


def _placidus_cusps_batch(theta, phi, eps, ascendant, midheaven, defined):
    # The same Newton iteration as _placidus_cusps(), on shape (N, 4). Charts
    # where the system is undefined get k = 0, so their iteration stays finite;
    # the caller replaces their cusps.
    offsets = np.array(_PLACIDUS_OFFSETS)
    shares = np.array(_PLACIDUS_SHARES)
    k = np.where(defined, np.tan(phi) * np.tan(eps), 0.0)[:, None]
    theta_offset = theta[:, None] + offsets

    ra = theta_offset + shares * np.arcsin(np.clip(k * np.sin(theta_offset), -1.0, 1.0))
    for _ in range(_NEWTON_MAX_STEPS):
        k_sin = np.clip(k * np.sin(ra), -1.0, 1.0)
        slope = 1.0 - shares * k * np.cos(ra) / np.maximum(np.sqrt(1.0 - k_sin * k_sin), 1e-300)
        step = (ra - theta_offset - shares * np.arcsin(k_sin)) / slope
        ra -= step
        if np.abs(step).max() < _NEWTON_TOLERANCE:
            break

    inner = np.arctan2(np.sin(ra), np.cos(ra) * np.cos(eps)[:, None])
    return _quadrant_cusps_batch(ascendant, midheaven, inner)


def _koch_cusps_batch(theta, phi, eps, ascendant, midheaven, defined):
    sin_declination = np.sin(eps) * np.sin(midheaven)
    tan_declination = sin_declination / np.sqrt(1.0 - sin_declination * sin_declination)
    semi_arc = 0.5 * math.pi + np.arcsin(np.clip(np.tan(phi) * tan_declination, -1.0, 1.0))
    shifted = theta[:, None] + np.array(_KOCH_STEPS) * (semi_arc / 3.0)[:, None]
    inner = _ascendant_batch(shifted, phi[:, None], eps[:, None])
    return _quadrant_cusps_batch(ascendant, midheaven, inner)


def _porphyry_cusps_batch(theta, phi, eps, ascendant, midheaven, defined):
    upper = (ascendant - midheaven) % _TWO_PI
    lower = math.pi - upper
    inner = np.stack(
        [
            midheaven + upper / 3.0,
            midheaven + 2.0 * upper / 3.0,
            ascendant + lower / 3.0,
            ascendant + 2.0 * lower / 3.0,
        ],
        axis=1,
    )
    return _quadrant_cusps_batch(ascendant, midheaven, inner)


def _regiomontanus_cusps_batch(theta, phi, eps, ascendant, midheaven, defined):
    offsets = np.array(_REGIOMONTANUS_EQUATOR_OFFSETS)
    tilts = np.arctan2(np.cos(phi)[:, None] * np.cos(offsets), np.sin(offsets))
    inner = _tilted_horizon_crossing_batch(theta[:, None], phi[:, None], eps[:, None], tilts)
    return _quadrant_cusps_batch(ascendant, midheaven, inner)


def _campanus_cusps_batch(theta, phi, eps, ascendant, midheaven, defined):
    tilts = np.array(_CAMPANUS_TILTS)
    inner = _tilted_horizon_crossing_batch(theta[:, None], phi[:, None], eps[:, None], tilts)
    return _quadrant_cusps_batch(ascendant, midheaven, inner)


def _equal_cusps_batch(theta, phi, eps, ascendant, midheaven, defined):
    return ascendant[:, None] + np.arange(12) * (math.pi / 6.0)


def _whole_sign_cusps_batch(theta, phi, eps, ascendant, midheaven, defined):
    first = np.radians(np.floor(_degrees_batch(ascendant) / 30.0) * 30.0)
    return first[:, None] + np.arange(12) * (math.pi / 6.0)


_CUSP_FUNCTIONS_BATCH = {
    "placidus": _placidus_cusps_batch,
    "koch": _koch_cusps_batch,
    "porphyry": _porphyry_cusps_batch,
    "regiomontanus": _regiomontanus_cusps_batch,
    "campanus": _campanus_cusps_batch,
    "equal": _equal_cusps_batch,
    "whole_sign": _whole_sign_cusps_batch,
}
