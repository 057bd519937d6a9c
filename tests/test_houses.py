"""Tests of defrag.houses against the Swiss Ephemeris and against geometry.

pyswisseph (AGPL) is a test-only cross-check here: swe.houses_armc() takes
the same ARMC, latitude and obliquity, so cusps must agree to rounding.
Its Placidus iteration stops at residuals up to about 0.002 arcsecond near
the polar circles (measured), so cusps are compared to 0.01 arcsecond.
"""

import math

import erfa
import numpy as np
import pytest
import swisseph as swe

from defrag import houses

TOLERANCE_ARCSECONDS = 0.01
OBLIQUITY_J2000 = 23.4392911  # IAU 2006 mean obliquity at J2000, in degrees

SWISSEPH_CODES = {
    "placidus": b"P",
    "koch": b"K",
    "porphyry": b"O",
    "regiomontanus": b"R",
    "campanus": b"C",
    "equal": b"E",
    "whole_sign": b"W",
}

LATITUDES = (-66.0, -60.0, -45.0, -23.5, -10.0, 0.0, 10.0, 23.5, 45.0, 51.5, 60.0, 66.0)
ARMCS = (0.0, 37.5, 90.0, 145.0, 180.0, 222.2, 270.0, 315.0, 359.99)
OBLIQUITIES = (23.0, OBLIQUITY_J2000, 23.9)


def arcseconds_apart(first: float, second: float) -> float:
    return abs((first - second + 180.0) % 360.0 - 180.0) * 3600.0


def horizontal_of(longitude: float, armc: float, latitude: float, obliquity: float) -> tuple[float, float]:
    """Return (azimuth from north through east, altitude) in degrees of an ecliptic point."""
    lam = math.radians(longitude)
    eps = math.radians(obliquity)
    right_ascension = math.atan2(math.sin(lam) * math.cos(eps), math.cos(lam))
    declination = math.asin(math.sin(eps) * math.sin(lam))
    hour_angle = math.radians(armc) - right_ascension
    azimuth, altitude = erfa.hd2ae(hour_angle, declination, math.radians(latitude))
    return math.degrees(azimuth) % 360.0, math.degrees(altitude)


@pytest.mark.parametrize("latitude", LATITUDES)
@pytest.mark.parametrize("system", houses.HOUSE_SYSTEMS)
def test_cusps_match_swisseph(system, latitude):
    for armc in ARMCS:
        for obliquity in OBLIQUITIES:
            ours = houses.compute_houses(system, armc, latitude, obliquity)
            theirs, _ = swe.houses_armc(armc, latitude, obliquity, SWISSEPH_CODES[system])
            for number, (cusp, expected) in enumerate(zip(ours.cusps, theirs), start=1):
                apart = arcseconds_apart(cusp, expected)
                assert apart < TOLERANCE_ARCSECONDS, (armc, obliquity, number, cusp, expected)


@pytest.mark.parametrize("latitude", LATITUDES)
def test_angles_match_swisseph(latitude):
    for armc in ARMCS:
        for obliquity in OBLIQUITIES:
            ours = houses.compute_houses("placidus", armc, latitude, obliquity)
            _, angles = swe.houses_armc(armc, latitude, obliquity, b"P")
            assert arcseconds_apart(ours.ascendant, angles[0]) < TOLERANCE_ARCSECONDS, (armc, obliquity)
            assert arcseconds_apart(ours.midheaven, angles[1]) < TOLERANCE_ARCSECONDS, (armc, obliquity)
            assert arcseconds_apart(ours.descendant, angles[0] + 180.0) < TOLERANCE_ARCSECONDS, (armc, obliquity)
            assert arcseconds_apart(ours.imum_coeli, angles[1] + 180.0) < TOLERANCE_ARCSECONDS, (armc, obliquity)


@pytest.mark.parametrize("latitude", [lat for lat in LATITUDES if lat != 0.0])
def test_vertex_matches_swisseph(latitude):
    # On the equator both equinoxes can lie on the meridian, leaving the vertex undefined.
    for armc in ARMCS:
        ours = houses.compute_houses("placidus", armc, latitude, OBLIQUITY_J2000)
        _, angles = swe.houses_armc(armc, latitude, OBLIQUITY_J2000, b"P")
        assert arcseconds_apart(ours.vertex, angles[3]) < TOLERANCE_ARCSECONDS, armc


@pytest.mark.parametrize("latitude", [66.56, -66.56])
@pytest.mark.parametrize("system", ["placidus", "koch"])
def test_polar_boundary_keeps_system(system, latitude):
    # 90 - 23.4392911 = 66.5607°, so 66.56° is just inside the polar circle.
    for armc in ARMCS:
        ours = houses.compute_houses(system, armc, latitude, OBLIQUITY_J2000)
        theirs, _ = swe.houses_armc(armc, latitude, OBLIQUITY_J2000, SWISSEPH_CODES[system])
        assert ours.system_used == system
        assert ours.warnings == ()
        for cusp, expected in zip(ours.cusps, theirs):
            assert arcseconds_apart(cusp, expected) < TOLERANCE_ARCSECONDS, armc


@pytest.mark.parametrize("latitude", [70.0, 80.0, -75.0])
@pytest.mark.parametrize("system", ["placidus", "koch"])
def test_polar_falls_back_to_porphyry(system, latitude):
    ours = houses.compute_houses(system, 123.0, latitude, OBLIQUITY_J2000)
    porphyry = houses.compute_houses("porphyry", 123.0, latitude, OBLIQUITY_J2000)
    assert ours.system_requested == system
    assert ours.system_used == "porphyry"
    assert ours.cusps == porphyry.cusps
    assert len(ours.warnings) == 1
    assert f"{latitude:.4f}°" in ours.warnings[0]
    assert "polar circle" in ours.warnings[0]


@pytest.mark.parametrize("system", ["porphyry", "regiomontanus", "campanus", "equal", "whole_sign"])
def test_polar_other_systems_no_warning(system):
    ours = houses.compute_houses(system, 123.0, 75.0, OBLIQUITY_J2000)
    assert ours.system_used == system
    assert ours.warnings == ()


@pytest.mark.parametrize("latitude", [70.0, -70.0, 89.9, -89.9, 51.5, -33.9, 0.0])
@pytest.mark.parametrize("armc", [0.0, 45.0, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0])
def test_ascendant_rises_in_east(latitude, armc):
    ascendant = houses.compute_houses("placidus", armc, latitude, OBLIQUITY_J2000).ascendant
    azimuth, altitude = horizontal_of(ascendant, armc, latitude, OBLIQUITY_J2000)
    assert abs(altitude) < 1e-9
    assert 0.0 <= azimuth <= 180.0


@pytest.mark.parametrize("latitude", [70.0, -70.0, 89.9])
@pytest.mark.parametrize("armc", [0.0, 90.0, 180.0, 270.0, 300.0])
def test_midheaven_on_upper_meridian(latitude, armc):
    midheaven = houses.compute_houses("porphyry", armc, latitude, OBLIQUITY_J2000).midheaven
    lam = math.radians(midheaven)
    eps = math.radians(OBLIQUITY_J2000)
    right_ascension = math.degrees(math.atan2(math.sin(lam) * math.cos(eps), math.cos(lam)))
    assert arcseconds_apart(right_ascension, armc) < 1e-6


@pytest.mark.parametrize("system", ["regiomontanus", "campanus"])
@pytest.mark.parametrize("latitude", [70.0, -75.0])
def test_polar_cusps_east_of_meridian(system, latitude):
    # Cusps 11, 12, 2 and 3 lie on the eastern halves of their house circles.
    for armc in ARMCS:
        cusps = houses.compute_houses(system, armc, latitude, OBLIQUITY_J2000).cusps
        for number in (11, 12, 2, 3):
            azimuth, _ = horizontal_of(cusps[number - 1], armc, latitude, OBLIQUITY_J2000)
            assert 0.0 <= azimuth <= 180.0, (armc, number)


def test_equal_steps_from_ascendant():
    chart = houses.compute_houses("equal", 200.0, 40.0, OBLIQUITY_J2000)
    for number, cusp in enumerate(chart.cusps, start=1):
        assert arcseconds_apart(cusp, chart.ascendant + 30.0 * (number - 1)) < 1e-6, number


def test_whole_sign_starts_at_sign():
    chart = houses.compute_houses("whole_sign", 200.0, 40.0, OBLIQUITY_J2000)
    first = math.floor(chart.ascendant / 30.0) * 30.0
    for number, cusp in enumerate(chart.cusps, start=1):
        assert cusp == pytest.approx((first + 30.0 * (number - 1)) % 360.0, abs=1e-9), number


def test_whole_sign_exact_aries_ascendant():
    # At ARMC 270 on the equator the ascendant is exactly 0° Aries.
    chart = houses.compute_houses("whole_sign", 270.0, 0.0, OBLIQUITY_J2000)
    assert chart.ascendant == 0.0
    assert chart.cusps[0] == 0.0


@pytest.mark.parametrize(
    "longitude, expected",
    [(359.9, 1), (350.0, 1), (0.0, 1), (19.999, 1), (20.0, 2), (44.0, 2), (45.0, 3), (349.99, 12)],
)
def test_house_of_across_wrap(longitude, expected):
    cusps = (350.0, 20.0, 45.0, 70.0, 100.0, 140.0, 170.0, 200.0, 225.0, 250.0, 280.0, 320.0)
    assert houses.house_of(longitude, cusps) == expected


def test_house_of_unequal_houses():
    chart = houses.compute_houses("placidus", 222.2, 60.0, OBLIQUITY_J2000)
    for number, cusp in enumerate(chart.cusps, start=1):
        following = chart.cusps[number % 12]
        middle = cusp + ((following - cusp) % 360.0) / 2.0
        assert houses.house_of(cusp, chart.cusps) == number
        assert houses.house_of(middle % 360.0, chart.cusps) == number


def test_house_of_rejects_short_cusps():
    with pytest.raises(ValueError, match="12 longitudes"):
        houses.house_of(10.0, (0.0, 30.0))


def test_unknown_system_names_choices():
    with pytest.raises(ValueError, match="placidus, koch, porphyry"):
        houses.compute_houses("topocentric", 0.0, 50.0, OBLIQUITY_J2000)


@pytest.mark.parametrize("latitude", [90.1, -91.0, math.nan])
def test_latitude_out_of_range(latitude):
    with pytest.raises(ValueError, match="latitude_degrees"):
        houses.compute_houses("placidus", 0.0, latitude, OBLIQUITY_J2000)


def test_default_system_is_placidus():
    assert houses.DEFAULT_HOUSE_SYSTEM == "placidus"


@pytest.mark.parametrize("system", houses.HOUSE_SYSTEMS)
def test_batch_matches_single(system):
    armcs = np.linspace(0.0, 359.0, 366)
    latitudes = np.linspace(-80.0, 80.0, 366)
    obliquities = np.full(366, OBLIQUITY_J2000)
    batch = houses.compute_houses_batch(system, armcs, latitudes, obliquities)
    assert batch.cusps.shape == (366, 12)
    for index in range(366):
        single = houses.compute_houses(system, armcs[index], latitudes[index], OBLIQUITY_J2000)
        assert batch.system_used[index] == single.system_used
        assert np.abs((batch.cusps[index] - single.cusps + 180.0) % 360.0 - 180.0).max() < 1e-9
        assert arcseconds_apart(batch.ascendant[index], single.ascendant) < 1e-6
        assert arcseconds_apart(batch.midheaven[index], single.midheaven) < 1e-6
        assert arcseconds_apart(batch.vertex[index], single.vertex) < 1e-6


def test_batch_warns_per_polar_chart():
    latitudes = np.array([10.0, 70.0, -75.0, 66.0])
    batch = houses.compute_houses_batch("placidus", np.zeros(4), latitudes, OBLIQUITY_J2000)
    assert batch.system_used == ("placidus", "porphyry", "porphyry", "placidus")
    assert len(batch.warnings) == 2
    assert "70.0000°" in batch.warnings[0]
    assert "-75.0000°" in batch.warnings[1]


def test_batch_scalar_latitude():
    armcs = np.arange(0.0, 360.0, 30.0)
    batch = houses.compute_houses_batch("koch", armcs, 51.5, np.full(12, OBLIQUITY_J2000))
    assert batch.ascendant.shape == (12,)
    assert batch.system_used == ("koch",) * 12
