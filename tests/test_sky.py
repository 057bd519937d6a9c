"""Tests of the chart engine's front door (defrag.sky): shapes, options and regression cases.

Accuracy against JPL Horizons is tested in test_accuracy.py, and house cusps
against a second engine in test_houses.py.
"""

import datetime as dt
import math

import numpy as np
import pytest

from defrag import chart, ephemeris, houses, sky, timescales, zodiac

LONDON = sky.Observer(51.5074, -0.1278, 11.0)
TROPICAL = sky.Options()


def one_chart(instant: dt.datetime, observer=LONDON, options=TROPICAL, time_scale="utc") -> sky.Charts:
    return sky.compute_charts(np.array([sky.julian_date(instant)]), time_scale, observer, options)


def separation_arcseconds(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0) * 3600.0


def test_bodies_in_documented_order():
    assert sky.BODIES == ("sun", "moon", "mercury", "venus", "mars", "jupiter", "saturn", "uranus", "neptune", "pluto")


def test_longitudes_in_range():
    charts = one_chart(dt.datetime(2024, 3, 20, 12))

    assert (charts.longitude >= 0.0).all()
    assert (charts.longitude < 360.0).all()


def test_sun_at_equinox_near_zero_longitude():
    # The March 2024 equinox was at 03:06 UTC (a published almanac value),
    # and the Sun moves about 2.5 arcminutes an hour.
    charts = one_chart(dt.datetime(2024, 3, 20, 3, 6))

    assert separation_arcseconds(charts.longitude[0, 0], 0.0) < 60.0


def test_ecliptic_longitude_is_not_right_ascension():
    # In early May, halfway from equinox to solstice, the Sun's two differ by about 2.5 degrees.
    charts = one_chart(dt.datetime(2024, 5, 5, 12))

    assert abs(charts.longitude[0, 0] - charts.positions.ra[0, 0]) > 1.0


def test_sign_and_degree_rebuild_longitude():
    charts = one_chart(dt.datetime(2024, 5, 5, 12))

    rebuilt = charts.sign * 30.0 + charts.degree_in_sign
    assert np.allclose(rebuilt, charts.longitude)


@pytest.mark.parametrize(("longitude", "sign", "degree"), [(0.0, 0, 0.0), (29.999999, 0, 29.999999), (359.9999, 11, 29.9999)])
def test_signs_of_edges(longitude, sign, degree):
    signs, degrees = sky.signs_of(np.array([[longitude]]))

    assert signs[0, 0] == sign
    assert degrees[0, 0] == pytest.approx(degree)


def test_house_across_zero_longitude():
    cusps = np.array([[350.0, 20.0, 50.0, 80.0, 110.0, 140.0, 170.0, 200.0, 230.0, 260.0, 290.0, 320.0]])

    found = sky.houses_of(np.array([[359.9, 0.1, 19.9, 20.0, 349.9]]), cusps)

    assert found.tolist() == [[1, 1, 1, 2, 12]]


def test_houses_of_matches_single_rule():
    charts = one_chart(dt.datetime(2001, 9, 9, 21, 15))

    expected = [houses.house_of(float(value), charts.cusps[0]) for value in charts.longitude[0]]
    assert charts.house[0].tolist() == expected


def test_retrograde_mercury():
    # Mercury was retrograde from 2024-04-01 to 2024-04-25 (published almanac dates).
    charts = one_chart(dt.datetime(2024, 4, 12, 12))

    assert bool(charts.positions.retrograde[0, 2]) is True


def test_direct_mercury():
    charts = one_chart(dt.datetime(2024, 5, 12, 12))

    assert bool(charts.positions.retrograde[0, 2]) is False


def test_stationary_mercury_near_station():
    # The station before retrograde was on 2024-04-01 at about 22:14 UTC.
    charts = one_chart(dt.datetime(2024, 4, 1, 22, 14))

    assert bool(charts.positions.stationary[0, 2]) is True


def test_sun_and_moon_never_retrograde():
    jd = sky.julian_date(dt.datetime(2000, 1, 1)) + np.arange(0.0, 400.0, 3.0)
    charts = sky.compute_charts(jd, "utc", LONDON, TROPICAL)

    assert not charts.positions.retrograde[:, :2].any()


def test_moon_parallax_at_horizon():
    # Near the horizon the line of sight runs almost at right angles to the
    # observer's radius, so the topocentric distance is close to the
    # geocentric one and the parallax is the full horizontal parallax.
    jd = sky.julian_date(dt.datetime(2024, 1, 1)) + np.arange(0.0, 2.0, 1.0 / 96.0)
    charts = sky.compute_charts(jd, "utc", LONDON, TROPICAL)
    altitude = charts.positions.altitude[:, 1]
    near_horizon = np.abs(altitude) < 2.0
    geocentric_distance_km = charts.positions.geocentric_distance_au[near_horizon, 1] * 149597870.7
    horizontal_parallax = np.degrees(np.arcsin(6378.137 / geocentric_distance_km))

    topocentric_distance_km = charts.positions.distance_au[near_horizon, 1] * 149597870.7
    assert (geocentric_distance_km - topocentric_distance_km < 600.0).all()
    assert (horizontal_parallax > 0.89).all()
    assert (horizontal_parallax < 1.02).all()


def test_sidereal_longitude_is_tropical_minus_ayanamsa():
    instant = dt.datetime(2010, 6, 1, 6)
    tropical = one_chart(instant)
    sidereal = one_chart(instant, options=sky.options_from_fields("sidereal", "lahiri", "", False, True))

    difference = (tropical.longitude - sidereal.longitude) % 360.0
    assert np.allclose(difference, sidereal.ayanamsa[0])


def test_lahiri_about_24_degrees_in_2010():
    sidereal = one_chart(dt.datetime(2010, 6, 1, 6), options=sky.options_from_fields("sidereal", "", "", False, True))

    assert 23.9 < sidereal.ayanamsa[0] < 24.1


def test_sidereal_whole_sign_cusps_on_boundaries():
    options = sky.options_from_fields("sidereal", "lahiri", "whole_sign", False, True)
    charts = one_chart(dt.datetime(1990, 2, 3, 4, 5), options=options)

    assert np.allclose(charts.cusps[0] % 30.0, 0.0)
    assert math.floor(charts.angles[0, 0] / 30.0) * 30.0 == pytest.approx(charts.cusps[0, 0])


def test_polar_placidus_falls_back():
    charts = one_chart(dt.datetime(2020, 1, 1, 12), observer=sky.Observer(78.2, 15.6, 0.0))

    assert charts.house_system_used == ("porphyry",)
    assert "polar circle" in charts.house_warnings[0][0]


def test_unknown_time_has_no_houses():
    options = sky.options_from_fields("", "", "", False, False)
    charts = one_chart(dt.datetime(2020, 1, 1, 12), options=options)

    assert charts.angles is None
    assert charts.house is None


def test_precision_arcsecond_with_measured_ut1():
    charts = one_chart(dt.datetime(2020, 1, 1, 12))

    assert charts.precision == ("arcsecond",)


def test_precision_delta_t_before_1962():
    charts = one_chart(dt.datetime(1850, 1, 1, 12))

    assert charts.precision == ("delta_t_model",)
    assert "Delta T model" in charts.warnings[0][0]


def test_precision_delta_t_far_future():
    charts = one_chart(dt.datetime(2150, 1, 1, 12))

    assert charts.precision == ("delta_t_model",)


def test_batch_equals_single_charts():
    instants = [dt.datetime(1900 + 17 * k, 1 + k % 12, 1 + k, 3 * k % 24) for k in range(12)]
    batch = sky.compute_charts(np.array([sky.julian_date(instant) for instant in instants]), "utc", LONDON, TROPICAL)

    for index, instant in enumerate(instants):
        single = one_chart(instant)
        # Nutation in a batch uses the same table, so the two agree to rounding.
        assert np.allclose(batch.longitude[index], single.longitude[0], atol=1e-9)
        assert np.allclose(batch.cusps[index], single.cusps[0], atol=1e-7)


def test_tt_scale_skips_leap_seconds():
    # The reading 2020-01-01T00:00:00 in UTC falls 69.184 s (37 s TAI-UTC plus
    # 32.184 s) after the same reading in TT.
    instant = dt.datetime(2020, 1, 1)
    in_tt = one_chart(instant, time_scale="tt")
    in_utc = one_chart(instant)

    difference_seconds = (in_utc.instants.jd_tt[0] - in_tt.instants.jd_tt[0]) * 86400.0
    assert difference_seconds == pytest.approx(69.184, abs=1e-4)


def test_utc_from_tt_round_trip():
    utc = sky.utc_from_tt(sky.julian_date(dt.datetime(2020, 1, 1, 0, 1, 9, 184000)))

    assert utc == dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


def test_moon_phase_full_moon():
    # Full Moon of 2024-01-25 at 17:54 UTC (published almanac value).
    charts = one_chart(dt.datetime(2024, 1, 25, 17, 54))

    assert charts.positions.moon_elongation[0] == pytest.approx(180.0, abs=0.1)
    assert charts.positions.moon_illuminated_fraction[0] > 0.99


def test_mean_node_near_true_node():
    charts = one_chart(dt.datetime(2024, 1, 25, 17, 54))

    assert separation_arcseconds(charts.mean_node[0], charts.true_node[0]) < 2.0 * 3600.0


@pytest.mark.parametrize(
    ("lat", "lon", "elevation", "field"),
    [
        (None, 0.0, None, "lat"),
        (91.0, 0.0, None, "lat"),
        (0.0, float("nan"), None, "lon"),
        (0.0, 181.0, None, "lon"),
        (0.0, 0.0, 10000.5, "elevation_meters"),
    ],
)
def test_invalid_observer_field(lat, lon, elevation, field):
    (error,) = sky.validate_observer(lat, lon, elevation)

    assert error.field == field


def test_valid_options_accepted():
    assert sky.validate_options("tt", "sidereal", zodiac.DEFAULT_AYANAMSA, "koch") == []


@pytest.mark.parametrize("altitude", [-10.0, 0.0, 30.0, 90.0])
def test_biological_pressure_score(altitude):
    assert sky.biological_pressure_score(altitude) == pytest.approx(max(0.0, math.sin(math.radians(altitude))))


def test_delta_t_continuous_at_1800():
    # DE423 starts on 1799-12-16, so the last days of 1799 need Delta T too.
    before, after = timescales.delta_t_model(np.array([2378495.5, 2378496.5]))

    assert before == pytest.approx(after, abs=0.01)


def test_outside_kernel_raises():
    with pytest.raises(ephemeris.OutsideEphemeris):
        sky.compute_charts(np.array([2600000.0]), "tt", LONDON, TROPICAL)


def test_nutation_outside_kernel_raises():
    with pytest.raises(ephemeris.OutsideEphemeris):
        chart.nutation(np.array([2300000.0]))
