"""Zodiac signs and the sidereal zodiac (ayanamsas).

An ayanamsa is the ecliptic longitude of the equinox of date measured from
a sidereal zodiac's zero point, so sidereal longitude = tropical longitude
minus ayanamsa. Each system here is defined by its published value at an
epoch. That value is carried to J2000 with the precession theory it was
published with, and from J2000 to the requested date with the IAU 2006
general precession in longitude (Capitaine, Wallace and Chapront 2003).
docs/houses.md lists the sources and the measured agreement with the
Swiss Ephemeris.

This module imports no gRPC and no Redis.
"""

import dataclasses
import math

import erfa
import numpy as np

SIGNS = (
    "aries", "taurus", "gemini", "cancer", "leo", "virgo",
    "libra", "scorpio", "sagittarius", "capricorn", "aquarius", "pisces",
)

ZODIACS = ("tropical", "sidereal")
DEFAULT_ZODIAC = "tropical"

AYANAMSAS = ("lahiri", "fagan_bradley", "raman", "krishnamurti", "yukteshwar")
DEFAULT_AYANAMSA = "lahiri"

J2000_JD = 2451545.0
_DAYS_PER_JULIAN_CENTURY = 36525.0
_ARCSECONDS_PER_DEGREE = 3600.0

# Newcomb's general precession in longitude runs at 5025.64" + 2.22" T per
# tropical century, with T in tropical centuries from B1900.0.
_B1900_JD = 2415020.31352
_DAYS_PER_TROPICAL_CENTURY = 36524.2199


@dataclasses.dataclass(frozen=True)
class AyanamsaDefinition:
    """A sidereal zodiac: its mean ayanamsa at an epoch and the precession theory of that value."""

    epoch_jd_tt: float
    value_degrees: float
    precession_theory: str  # "newcomb", "iau1976" or "iau2006"


# Values at epoch, as mean ayanamsas (nutation removed). Sources are in docs/houses.md.
AYANAMSA_DEFINITIONS = {
    # 24°02'31.36" at B1950.0: the Synetic Vernal Point of Fagan and Allen.
    "fagan_bradley": AyanamsaDefinition(2433282.42346, 24.042044444, "newcomb"),
    # 23°15'00.658" true ayanamsa at 1956-03-21 0h TT less 16.77" (0.004658035°)
    # of nutation in longitude, the Swiss Ephemeris values. The Calendar Reform
    # Committee (1955) fixed 23°15'00" true at 0h UT on that day.
    "lahiri": AyanamsaDefinition(2435553.5, 23.250182778 - 0.004658035, "iau1976"),
    # Values at J1900.0 (JD 2415020.0 TT), as tabulated by the Swiss Ephemeris.
    "raman": AyanamsaDefinition(2415020.0, 360.0 - 338.98556, "newcomb"),
    "krishnamurti": AyanamsaDefinition(2415020.0, 360.0 - 337.636111, "newcomb"),
    "yukteshwar": AyanamsaDefinition(2415020.0, 360.0 - 338.917778, "iau2006"),
}


def sign_of(longitude_degrees: float) -> tuple[str, float]:
    """Return the sign that contains an ecliptic longitude and the degrees into that sign.

    Any finite longitude is reduced into [0, 360) first, so -30 is Pisces 0°
    and 360 is Aries 0°.
    """
    if not math.isfinite(longitude_degrees):
        raise ValueError(f"longitude_degrees must be a finite number of degrees; got {longitude_degrees}")

    # The second modulo catches -1e-17 % 360, which rounds to 360.0.
    longitude = longitude_degrees % 360.0 % 360.0
    index = min(int(longitude // 30.0), 11)
    return SIGNS[index], longitude - 30.0 * index


def sidereal_longitude(tropical_longitude_degrees, ayanamsa_degrees):
    """Return the sidereal longitude in [0, 360) for a tropical longitude and an ayanamsa.

    Subtract the mean ayanamsa from longitudes on the mean equinox of date,
    and the ayanamsa with nutation from apparent longitudes on the true
    equinox. Works on floats and NumPy arrays.
    """
    return (tropical_longitude_degrees - ayanamsa_degrees) % 360.0 % 360.0


def check_ayanamsa(name: str) -> None:
    """Raise ValueError unless `name` is one of AYANAMSAS."""
    if name not in AYANAMSA_DEFINITIONS:
        raise ValueError(f"unknown ayanamsa {name!r}: use one of {', '.join(AYANAMSAS)}")


def ayanamsa_degrees(name: str, jd_tt, *, include_nutation: bool = False):
    """Compute an ayanamsa in degrees at a Julian date in TT.

    Without nutation this is the mean ayanamsa, measured from the mean
    equinox of date. With `include_nutation` it adds the IAU 2000A nutation
    in longitude (erfa.nut06a), for use with apparent longitudes. `jd_tt` may
    be a float (the result is a float) or a NumPy array (the result is an
    array of the same shape).
    """
    check_ayanamsa(name)
    definition = AYANAMSA_DEFINITIONS[name]

    centuries = (jd_tt - J2000_JD) / _DAYS_PER_JULIAN_CENTURY
    arcseconds = _value_at_j2000_arcseconds(definition) + _iau2006_precession_arcseconds(centuries)
    if include_nutation:
        nutation_longitude, _ = erfa.nut06a(J2000_JD, jd_tt - J2000_JD)
        arcseconds = arcseconds + np.degrees(nutation_longitude) * _ARCSECONDS_PER_DEGREE

    degrees = arcseconds / _ARCSECONDS_PER_DEGREE
    if np.ndim(degrees) == 0:
        return float(degrees)
    return degrees


def _value_at_j2000_arcseconds(definition: AyanamsaDefinition) -> float:
    """Carry the value at epoch to J2000 with the precession theory it was published with."""
    epoch = definition.epoch_jd_tt
    if definition.precession_theory == "newcomb":
        precession = _newcomb_precession_arcseconds(epoch, J2000_JD)
    elif definition.precession_theory == "iau1976":
        precession = _iau1976_precession_arcseconds(epoch, J2000_JD)
    else:
        precession = -_iau2006_precession_arcseconds((epoch - J2000_JD) / _DAYS_PER_JULIAN_CENTURY)
    return definition.value_degrees * _ARCSECONDS_PER_DEGREE + precession


def _iau2006_precession_arcseconds(centuries):
    """Return the IAU 2006 general precession in longitude p_A since J2000, in arcseconds.

    `centuries` is in Julian centuries of TT from J2000 (Capitaine et al.
    2003, the P03 series adopted by IAU 2006 Resolution B1).
    """
    t = centuries
    return ((((-0.0000000383 * t - 0.000023857) * t + 0.00007964) * t + 1.1054348) * t + 5028.796195) * t


def _iau1976_precession_arcseconds(start_jd: float, end_jd: float) -> float:
    """Return the IAU 1976 general precession in longitude from start to end, in arcseconds.

    Lieske et al. 1977: with T the start in Julian centuries from J2000 and
    t the interval in Julian centuries,
    p = (5029.0966 + 2.22226 T - 0.000042 T^2) t + (1.11113 - 0.000042 T) t^2 - 0.000006 t^3.
    """
    start = (start_jd - J2000_JD) / _DAYS_PER_JULIAN_CENTURY
    interval = (end_jd - start_jd) / _DAYS_PER_JULIAN_CENTURY
    return (
        (5029.0966 + 2.22226 * start - 0.000042 * start * start) * interval
        + (1.11113 - 0.000042 * start) * interval * interval
        - 0.000006 * interval**3
    )


def _newcomb_precession_arcseconds(start_jd: float, end_jd: float) -> float:
    """Return Newcomb's general precession in longitude from start to end, in arcseconds."""

    def accumulated(jd: float) -> float:
        centuries = (jd - _B1900_JD) / _DAYS_PER_TROPICAL_CENTURY
        return 5025.64 * centuries + 1.11 * centuries * centuries

    return accumulated(end_jd) - accumulated(start_jd)
