"""Telemetry charts through the real Envoy: chart fields, time rules, batches, charging and health.

Every call goes over REST (the JSON transcoder) or native gRPC through the
public listener, except the health check, which goes to the telemetry
service's own port because the public listener does not route grpc.health.v1.
Longitudes and cusps are compared in degrees.
"""

import asyncio
import datetime as dt
import json
import math
import time
import urllib.parse
import uuid

import grpc
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from conftest import bearer, error_reason, http, rich_status, status_detail
from defrag.telemetry.v1 import telemetry_pb2, telemetry_pb2_grpc

pytestmark = pytest.mark.integration

SIGNS = (
    "aries", "taurus", "gemini", "cancer", "leo", "virgo",
    "libra", "scorpio", "sagittarius", "capricorn", "aquarius", "pisces",
)
HOUSE_SYSTEMS = ("placidus", "koch", "porphyry", "regiomontanus", "campanus", "equal", "whole_sign")
QUADRANT_SYSTEMS = ("placidus", "koch", "porphyry", "regiomontanus", "campanus")
AYANAMSAS = ("lahiri", "fagan_bradley", "raman", "krishnamurti", "yukteshwar")

NEW_YORK = {"lat": 40.7128, "lon": -74.006}
NEW_YORK_2020 = {"date": "2020-06-01", "time": "12:00", **NEW_YORK}
SVALBARD = {"lat": 78.2, "lon": 15.6}
GREENWICH_UTC = {"lat": 51.48, "lon": 0.0, "utc_offset": "+00:00"}

# TT - UTC from 2017 on: 37 leap seconds plus TT - TAI = 32.184 s.
TT_MINUS_UTC_2020_SECONDS = 69.184
SECONDS_PER_DAY = 86400.0
DEGREES_TOLERANCE = 1e-9
# The limit on the gRPC message of a batch, checked by the gateway.
BATCH_MAX_BODY_BYTES = 32 * 1024
# How long a health check may take while batches are computing.
HEALTH_BOUND_SECONDS = 1.0


def vectors(mesh, key: str, prefix: str = "", **params):
    """Send GET /v1/telemetry/vectors with the params as the query string."""
    return http(mesh, f"{prefix}/v1/telemetry/vectors?{urllib.parse.urlencode(params)}", bearer(key))


def batch(mesh, key: str, instants: list[dict], prefix: str = "", **fields):
    """Send POST /v1/telemetry/vectors:batch with a JSON body."""
    body = json.dumps({"instants": instants, **fields}).encode()
    headers = {**bearer(key), "Content-Type": "application/json"}
    return http(mesh, f"{prefix}/v1/telemetry/vectors:batch", headers, method="POST", body=body)


def as_json(message) -> dict:
    """Convert a message to the JSON that the transcoder prints, with proto field names and primitive defaults."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def daily_instants(count: int, first: dt.date = dt.date(2024, 1, 1), clock: str = "12:00") -> list[dict]:
    return [{"date": (first + dt.timedelta(days=day)).isoformat(), "time": clock} for day in range(count)]


def batch_request(instants: list[dict], **fields) -> telemetry_pb2.BatchGetVectorsRequest:
    return telemetry_pb2.BatchGetVectorsRequest(instants=[telemetry_pb2.Instant(**instant) for instant in instants], **fields)


def angle_between(a: float, b: float) -> float:
    """Return the smaller arc between two longitudes, 0..180."""
    difference = abs(a - b) % 360.0
    return min(difference, 360.0 - difference)


def house_by_arcs(longitude: float, cusps: list[float]) -> int:
    """Find the house that contains a longitude, reading the cusps as arcs that may cross 0 degrees."""
    for index, start in enumerate(cusps):
        end = cusps[(index + 1) % 12]
        crosses_zero = end < start
        inside = (start <= longitude or longitude < end) if crosses_zero else start <= longitude < end
        if inside:
            return index + 1
    raise AssertionError(f"longitude {longitude} is in no house of {cusps}")


def violations(reply) -> dict[str, str]:
    return {v["field"]: v["description"] for v in reply.detail("BadRequest")["field_violations"]}


@pytest.fixture(scope="module")
def key(admin):
    """Create an account without a monthly cap and return its key, for tests that do not count charges."""
    _, _, plaintext = admin.account_with_key("bulk")
    return plaintext


@pytest.fixture(scope="module")
def stub(public_channel):
    return telemetry_pb2_grpc.TelemetryServiceStub(public_channel)


@pytest.fixture(scope="module")
def new_york_charts(mesh, key, stub):
    """Fetch the New York 2020 chart over each transport, as JSON."""
    rest = vectors(mesh, key, **NEW_YORK_2020)
    assert rest.status == 200, rest.body
    over_grpc = stub.GetVectors(telemetry_pb2.GetVectorsRequest(**NEW_YORK_2020), metadata=[("x-api-key", key)], timeout=30)
    return {"rest": rest.json(), "grpc": as_json(over_grpc)}


@pytest.fixture(scope="module")
def year_of_charts(mesh, key):
    """Fetch 366 daily charts of 2024 at 06:00 in New York, over REST."""
    reply = batch(mesh, key, daily_instants(366, clock="06:00"), **NEW_YORK)
    assert reply.status == 200, reply.body[:500]
    return reply.json()["charts"]


# Chart fields


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_bodies_have_signs_speeds_and_houses(new_york_charts, transport):
    chart = new_york_charts[transport]

    assert len(chart["bodies"]) == 10
    for body in chart["bodies"]:
        longitude = body["ecliptic"]["longitude_degrees"]
        assert 0.0 <= longitude < 360.0, body
        assert body["ecliptic"]["sign"] == SIGNS[math.floor(longitude / 30.0)], body
        assert body["ecliptic"]["degree_in_sign"] == pytest.approx(longitude % 30.0, abs=DEGREES_TOLERANCE), body
        assert math.isfinite(body["speed_degrees_per_day"]), body
        assert body["retrograde"] == (body["speed_degrees_per_day"] < 0), body
        assert 1 <= body["house"] <= 12, body


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_speeds_are_plausible(new_york_charts, transport):
    sun, moon = new_york_charts[transport]["bodies"][:2]

    assert 0.95 < sun["speed_degrees_per_day"] < 1.03
    assert 11.7 < moon["speed_degrees_per_day"] < 15.5


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_angles_and_cusps_agree(new_york_charts, transport):
    chart = new_york_charts[transport]
    angles = {name: point["longitude_degrees"] for name, point in chart["angles"].items()}
    cusps = [cusp["longitude_degrees"] for cusp in chart["houses"]["cusps"]]

    assert set(angles) == {"ascendant", "midheaven", "descendant", "imum_coeli", "vertex"}
    assert angle_between(angles["descendant"], angles["ascendant"] + 180.0) < DEGREES_TOLERANCE
    assert angle_between(angles["imum_coeli"], angles["midheaven"] + 180.0) < DEGREES_TOLERANCE
    assert chart["houses"]["house_system"] == "placidus"
    assert chart["houses"]["house_system_used"] == "placidus"
    assert len(cusps) == 12
    assert angle_between(cusps[0], angles["ascendant"]) < DEGREES_TOLERANCE
    assert angle_between(cusps[9], angles["midheaven"]) < DEGREES_TOLERANCE
    for body in chart["bodies"]:
        assert body["house"] == house_by_arcs(body["ecliptic"]["longitude_degrees"], cusps), body


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_nodes_and_moon_phase(new_york_charts, transport):
    chart = new_york_charts[transport]
    sun, moon = chart["bodies"][:2]
    phase = chart["moon_phase"]
    elongation = (moon["ecliptic"]["longitude_degrees"] - sun["ecliptic"]["longitude_degrees"]) % 360.0

    for node in ("mean_node", "true_node"):
        assert 0.0 <= chart["lunar_nodes"][node]["longitude_degrees"] < 360.0
        assert chart["lunar_nodes"][node]["sign"] in SIGNS
    assert angle_between(chart["lunar_nodes"]["mean_node"]["longitude_degrees"], chart["lunar_nodes"]["true_node"]["longitude_degrees"]) < 2.0
    assert angle_between(phase["elongation_degrees"], elongation) < 1e-6
    assert phase["waxing"] == (phase["elongation_degrees"] < 180.0)
    assert 0.0 <= phase["illuminated_fraction"] <= 1.0
    assert phase["illuminated_fraction"] == pytest.approx((1.0 + math.cos(math.radians(phase["phase_angle_degrees"]))) / 2.0, abs=1e-9)


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_time_scales_zodiac_and_precision(new_york_charts, transport):
    chart = new_york_charts[transport]
    scales = chart["time_scales"]

    assert scales["time_scale"] == "utc"
    # 16:00 UTC on 2020-06-01 is JD 2459002.16667; TT runs 69.184 s ahead of UTC.
    assert scales["julian_day_tt"] == pytest.approx(2459001.5 + 16 / 24 + TT_MINUS_UTC_2020_SECONDS / SECONDS_PER_DAY, abs=1e-8)
    assert scales["delta_t_seconds"] + scales["ut1_minus_utc_seconds"] == pytest.approx(TT_MINUS_UTC_2020_SECONDS, abs=1e-3)
    assert 69.0 < scales["delta_t_seconds"] < 70.0
    assert abs(scales["ut1_minus_utc_seconds"]) < 0.9
    assert scales["ut1_source"] == "iers_measured"
    assert chart["zodiac"]["zodiac"] == "tropical"
    assert "ayanamsa_degrees" not in chart["zodiac"]
    assert chart["precision"] == "arcsecond"
    assert chart["warnings"] == []
    assert chart["time_known"] is True


def test_rest_and_grpc_charts_agree(new_york_charts):
    rest, over_grpc = new_york_charts["rest"], new_york_charts["grpc"]

    for from_rest, from_grpc in zip(rest["bodies"], over_grpc["bodies"]):
        assert from_rest["ecliptic"]["longitude_degrees"] == pytest.approx(from_grpc["ecliptic"]["longitude_degrees"], abs=DEGREES_TOLERANCE)
        assert from_rest["house"] == from_grpc["house"]


def test_1850_precision_is_delta_t_model(mesh, key):
    reply = vectors(mesh, key, date="1850-06-01", time="12:00", **NEW_YORK)

    chart = reply.json()
    assert reply.status == 200
    assert chart["precision"] == "delta_t_model"
    assert chart["time_scales"]["ut1_source"] == "delta_t_model"
    assert "ut1_minus_utc_seconds" not in chart["time_scales"]
    assert any("Delta T model" in warning for warning in chart["warnings"])


# Time rules: zones, calendars, scales


def test_amsterdam_1930_keeps_its_odd_offset(mesh, key):
    reply = vectors(mesh, key, date="1930-07-15", time="12:00", lat=52.37, lon=4.90)

    chart = reply.json()
    assert reply.status == 200
    assert chart["observer_timezone"] == "Europe/Amsterdam"
    assert chart["utc_offset"] == "+01:19:32"
    assert chart["timestamp"] == "1930-07-15T10:40:28Z"
    assert chart["local_mean_time"] is False


def test_boston_1850_uses_local_mean_time(mesh, key):
    reply = vectors(mesh, key, date="1850-06-01", time="12:00", lat=42.36, lon=-71.06)

    chart = reply.json()
    assert reply.status == 200
    assert chart["local_mean_time"] is True
    # -71.06 degrees * 240 s per degree = -17054 s to the second.
    assert chart["utc_offset"] == "-04:44:14"
    assert chart["timestamp"] == "1850-06-01T16:44:14Z"
    assert any("local mean time at longitude -71.06" in warning for warning in chart["warnings"])


def test_local_mean_time_keeps_zone_name(mesh, key):
    reply = vectors(mesh, key, date="1850-06-01", time="12:00", lat=42.36, lon=-71.06)

    assert reply.json()["observer_timezone"] == "America/New_York"


def test_repeated_time_reads_first_and_warns(mesh, key):
    first = vectors(mesh, key, date="2021-11-07", time="01:30", **NEW_YORK)
    second = vectors(mesh, key, date="2021-11-07", time="01:30", fold=1, **NEW_YORK)

    assert first.status == 200
    assert first.json()["timestamp"] == "2021-11-07T05:30:00Z"
    assert first.json()["utc_offset"] == "-04:00"
    assert any("fold=1" in warning for warning in first.json()["warnings"])
    assert second.json()["timestamp"] == "2021-11-07T06:30:00Z"
    assert second.json()["utc_offset"] == "-05:00"


def test_skipped_time_is_400_naming_both_readings(mesh, key):
    reply = vectors(mesh, key, date="2021-03-14", time="02:30", **NEW_YORK)

    assert reply.status == 400
    assert reply.reason() == "NONEXISTENT_LOCAL_TIME"
    assert list(violations(reply)) == ["time"]
    assert "2021-03-14T03:30:00-04:00" in violations(reply)["time"]
    assert "2021-03-14T01:30:00-05:00" in violations(reply)["time"]


def test_julian_calendar_date_in_petrograd(mesh, key):
    julian = vectors(mesh, key, date="1917-10-25", time="12:00", calendar="julian", lat=59.94, lon=30.31)
    default = vectors(mesh, key, date="1917-10-25", time="12:00", lat=59.94, lon=30.31)

    assert julian.status == 200
    assert julian.json()["local_time"] == "1917-11-07T12:00:00"
    assert any("Julian calendar" in warning for warning in julian.json()["warnings"])
    assert default.json()["local_time"] == "1917-10-25T12:00:00"


def test_julian_date_of_1799_lands_in_range(mesh, key):
    reply = vectors(mesh, key, date="1799-12-25", time="12:00", calendar="julian", **NEW_YORK)

    assert reply.status == 200
    assert reply.json()["local_time"] == "1800-01-05T12:00:00"


@pytest.mark.parametrize("date, calendar", [("1799-12-31", ""), ("2200-01-01", ""), ("1500-03-01", ""), ("1799-12-19", "julian")])
def test_date_outside_engine_range_is_400(mesh, key, date, calendar):
    reply = vectors(mesh, key, date=date, time="12:00", calendar=calendar, **NEW_YORK)

    assert reply.status == 400
    assert list(violations(reply)) == ["date"]
    assert "1800-01-01" in violations(reply)["date"]
    assert "2199-12-31" in violations(reply)["date"]


def test_sun_longitude_is_not_its_right_ascension(mesh, key):
    reply = vectors(mesh, key, date="2024-05-05", time="12:00", lat=51.5, lon=0.0)

    sun = reply.json()["bodies"][0]
    assert angle_between(sun["ecliptic"]["longitude_degrees"], sun["ra_degrees"]) > 1.0


@pytest.mark.parametrize("system", ["placidus", "koch"])
def test_polar_houses_fall_back_to_porphyry(mesh, key, system):
    reply = vectors(mesh, key, date="2024-01-10", time="12:00", house_system=system, **SVALBARD)

    chart = reply.json()
    assert reply.status == 200
    assert chart["houses"]["house_system"] == system
    assert chart["houses"]["house_system_used"] == "porphyry"
    assert any("Porphyry" in warning for warning in chart["warnings"])


@pytest.mark.parametrize("system", ["porphyry", "regiomontanus", "campanus", "equal", "whole_sign"])
def test_polar_houses_keep_other_systems(mesh, key, system):
    reply = vectors(mesh, key, date="2024-01-10", time="12:00", house_system=system, **SVALBARD)

    assert reply.status == 200
    assert reply.json()["houses"]["house_system_used"] == system
    assert reply.json()["warnings"] == []


def test_missing_time_gives_noon_without_houses(mesh, key):
    reply = vectors(mesh, key, date="2024-01-10", **NEW_YORK)

    chart = reply.json()
    assert reply.status == 200
    assert chart["time_known"] is False
    assert chart["local_time"] == "2024-01-10T12:00:00"
    assert "angles" not in chart
    assert "houses" not in chart
    assert [body["house"] for body in chart["bodies"]] == [0] * 10
    assert any("time is missing" in warning for warning in chart["warnings"])


@pytest.mark.parametrize("ayanamsa", AYANAMSAS)
def test_sidereal_is_tropical_minus_ayanamsa(mesh, key, ayanamsa):
    instant = {"date": "2024-01-10", "time": "12:00", **NEW_YORK}
    tropical = vectors(mesh, key, **instant).json()
    reply = vectors(mesh, key, zodiac="sidereal", ayanamsa=ayanamsa, **instant)

    sidereal = reply.json()
    shift = sidereal["zodiac"]["ayanamsa_degrees"]
    assert reply.status == 200
    assert sidereal["zodiac"]["zodiac"] == "sidereal"
    assert sidereal["zodiac"]["ayanamsa"] == ayanamsa
    assert 20.0 < shift < 26.0
    for from_tropical, from_sidereal in zip(tropical["bodies"], sidereal["bodies"]):
        expected = (from_tropical["ecliptic"]["longitude_degrees"] - shift) % 360.0
        assert angle_between(from_sidereal["ecliptic"]["longitude_degrees"], expected) < DEGREES_TOLERANCE, from_sidereal["body"]
        assert from_sidereal["ecliptic"]["sign"] == SIGNS[math.floor(from_sidereal["ecliptic"]["longitude_degrees"] / 30.0)]
    for angle in ("ascendant", "midheaven"):
        expected = (tropical["angles"][angle]["longitude_degrees"] - shift) % 360.0
        assert angle_between(sidereal["angles"][angle]["longitude_degrees"], expected) < DEGREES_TOLERANCE, angle
    expected_node = (tropical["lunar_nodes"]["mean_node"]["longitude_degrees"] - shift) % 360.0
    assert angle_between(sidereal["lunar_nodes"]["mean_node"]["longitude_degrees"], expected_node) < DEGREES_TOLERANCE


def test_sidereal_whole_sign_cusps_start_signs(mesh, key):
    reply = vectors(mesh, key, date="2024-01-10", time="12:00", zodiac="sidereal", house_system="whole_sign", **NEW_YORK)

    chart = reply.json()
    cusps = chart["houses"]["cusps"]
    assert reply.status == 200
    assert cusps[0]["sign"] == chart["angles"]["ascendant"]["sign"]
    for cusp in cusps:
        assert cusp["degree_in_sign"] == pytest.approx(0.0, abs=DEGREES_TOLERANCE), cusp


def test_tt_reading_is_the_julian_date_itself(mesh, key):
    tt = vectors(mesh, key, date="2020-01-10", time="12:00", time_scale="tt", **NEW_YORK).json()
    utc = vectors(mesh, key, date="2020-01-10", time="12:00", utc_offset="+00:00", **NEW_YORK).json()

    # JD 2451545.0 is 2000-01-01 12:00, and 2020-01-10 12:00 is 7314 days later.
    assert tt["time_scales"]["julian_day_tt"] == pytest.approx(2458859.0, abs=DEGREES_TOLERANCE)
    assert tt["time_scales"]["time_scale"] == "tt"
    assert tt["observer_timezone"] == "TT"
    # 12:00:00 TT is 11:58:50.816 UTC, printed to the second.
    assert tt["timestamp"] == "2020-01-10T11:58:50Z"
    assert utc["timestamp"] == "2020-01-10T12:00:00Z"
    lead_seconds = (utc["time_scales"]["julian_day_tt"] - tt["time_scales"]["julian_day_tt"]) * SECONDS_PER_DAY
    assert lead_seconds == pytest.approx(TT_MINUS_UTC_2020_SECONDS, abs=1e-3)


@pytest.mark.parametrize("field, value", [("tz", "Europe/Paris"), ("utc_offset", "+01:00")])
def test_tt_with_a_zone_is_400(mesh, key, field, value):
    reply = vectors(mesh, key, date="2020-01-10", time="12:00", time_scale="tt", **{field: value}, **NEW_YORK)

    assert reply.status == 400
    assert list(violations(reply)) == [field]
    assert "Terrestrial Time" in violations(reply)[field]


@pytest.mark.parametrize("system", HOUSE_SYSTEMS)
def test_each_house_system_is_accepted(mesh, key, system):
    reply = vectors(mesh, key, house_system=system, **NEW_YORK_2020)

    chart = reply.json()
    ascendant = chart["angles"]["ascendant"]["longitude_degrees"]
    cusps = [cusp["longitude_degrees"] for cusp in chart["houses"]["cusps"]]
    assert reply.status == 200
    assert chart["houses"]["house_system"] == system
    assert chart["houses"]["house_system_used"] == system
    assert len(cusps) == 12
    if system in QUADRANT_SYSTEMS:
        assert angle_between(cusps[0], ascendant) < DEGREES_TOLERANCE
        assert angle_between(cusps[9], chart["angles"]["midheaven"]["longitude_degrees"]) < DEGREES_TOLERANCE
    if system == "equal":
        for index, cusp in enumerate(cusps):
            assert angle_between(cusp, ascendant + 30.0 * index) < DEGREES_TOLERANCE, index
    if system == "whole_sign":
        assert chart["houses"]["cusps"][0]["sign"] == chart["angles"]["ascendant"]["sign"]
        for index, cusp in enumerate(cusps):
            assert cusp % 30.0 == pytest.approx(0.0, abs=DEGREES_TOLERANCE), index
    for body in chart["bodies"]:
        assert body["house"] == house_by_arcs(body["ecliptic"]["longitude_degrees"], cusps), body["body"]


@pytest.mark.parametrize("system", ["topocentric", "Placidus", "placidus "])
def test_unknown_house_system_is_400(mesh, key, system):
    reply = vectors(mesh, key, house_system=system, **NEW_YORK_2020)

    assert reply.status == 400
    assert reply.reason() == "INVALID_ARGUMENT"
    assert list(violations(reply)) == ["house_system"]


# The 0/360 wrap


@pytest.mark.parametrize("clock, sign, low, high", [("03:00", "pisces", 29.99, 30.0), ("03:12", "aries", 0.0, 0.01)])
def test_sun_at_equinox_changes_sign(mesh, key, clock, sign, low, high):
    reply = vectors(mesh, key, date="2024-03-20", time=clock, **GREENWICH_UTC)

    sun = reply.json()["bodies"][0]["ecliptic"]
    assert sun["sign"] == sign
    assert low <= sun["degree_in_sign"] < high
    assert 0.0 <= sun["longitude_degrees"] < 360.0


def test_houses_across_zero_degrees(year_of_charts):
    crossings = 0

    for chart in year_of_charts:
        cusps = [cusp["longitude_degrees"] for cusp in chart["houses"]["cusps"]]
        for body in chart["bodies"]:
            longitude = body["ecliptic"]["longitude_degrees"]
            house = body["house"]
            assert house == house_by_arcs(longitude, cusps), (chart["local_time"], body["body"])
            crossings += cusps[house % 12] < cusps[house - 1]

    # Some body must sit in a house whose arc crosses 0 degrees, or the wrap went untested.
    assert crossings > 0


def test_signs_hold_over_a_year(year_of_charts):
    for chart in year_of_charts:
        for body in chart["bodies"]:
            point = body["ecliptic"]
            assert 0.0 <= point["longitude_degrees"] < 360.0, (chart["local_time"], body["body"])
            assert point["sign"] == SIGNS[math.floor(point["longitude_degrees"] / 30.0)], (chart["local_time"], body["body"])


# Batches


THREE_INSTANTS = [
    {"date": "2021-11-07", "time": "01:30", "fold": 1},
    {"date": "1850-06-01", "time": "08:15"},
    {"date": "2024-03-20", "time": "23:59:59"},
]


def assert_same_chart(chart: dict, single: dict) -> None:
    for field in ("timestamp", "utc_offset", "local_time", "precision", "warnings", "time_known"):
        assert chart[field] == single[field], field
    for from_batch, alone in zip(chart["bodies"], single["bodies"]):
        for field in ("ra_degrees", "dec_degrees", "azimuth_degrees", "altitude_degrees", "speed_degrees_per_day"):
            assert from_batch[field] == pytest.approx(alone[field], abs=DEGREES_TOLERANCE), (alone["body"], field)
        assert angle_between(from_batch["ecliptic"]["longitude_degrees"], alone["ecliptic"]["longitude_degrees"]) < DEGREES_TOLERANCE, alone["body"]
        assert from_batch["house"] == alone["house"], alone["body"]
    for from_batch, alone in zip(chart.get("houses", {}).get("cusps", []), single.get("houses", {}).get("cusps", [])):
        assert angle_between(from_batch["longitude_degrees"], alone["longitude_degrees"]) < DEGREES_TOLERANCE
    assert chart.get("angles", {}).keys() == single.get("angles", {}).keys()
    for name, point in chart.get("angles", {}).items():
        assert angle_between(point["longitude_degrees"], single["angles"][name]["longitude_degrees"]) < DEGREES_TOLERANCE, name


def test_rest_batch_matches_single_calls(mesh, key):
    reply = batch(mesh, key, THREE_INSTANTS, **NEW_YORK)
    singles = [vectors(mesh, key, **instant, **NEW_YORK).json() for instant in THREE_INSTANTS]

    charts = reply.json()["charts"]
    assert reply.status == 200
    assert reply.json()["request_id"] == reply.headers["x-request-id"]
    assert [chart["local_time"] for chart in charts] == ["2021-11-07T01:30:00", "1850-06-01T08:15:00", "2024-03-20T23:59:59"]
    for chart, single in zip(charts, singles):
        assert_same_chart(chart, single)


def test_grpc_batch_matches_single_calls(key, stub):
    metadata = [("x-api-key", key)]

    response = stub.BatchGetVectors(batch_request(THREE_INSTANTS, **NEW_YORK), metadata=metadata, timeout=30)
    singles = [stub.GetVectors(telemetry_pb2.GetVectorsRequest(**instant, **NEW_YORK), metadata=metadata, timeout=30) for instant in THREE_INSTANTS]

    assert len(response.charts) == 3
    for chart, single in zip(response.charts, singles):
        assert_same_chart(as_json(chart), as_json(single))


@pytest.mark.parametrize("options", [{"zodiac": "sidereal", "house_system": "whole_sign"}, {"time_scale": "tt"}, {"house_system": "koch", **SVALBARD}])
def test_batch_options_match_single_calls(mesh, key, options):
    place = {**NEW_YORK, **options}
    instants = [{"date": "2024-01-10", "time": "12:00"}, {"date": "2024-07-10", "time": "00:30"}]

    reply = batch(mesh, key, instants, **place)
    singles = [vectors(mesh, key, **instant, **place).json() for instant in instants]

    assert reply.status == 200
    for chart, single in zip(reply.json()["charts"], singles):
        assert_same_chart(chart, single)


def test_batch_mixes_charts_with_and_without_time(mesh, key):
    reply = batch(mesh, key, [{"date": "2024-01-10", "time": "12:00"}, {"date": "2024-01-11"}], **NEW_YORK)

    timed, untimed = reply.json()["charts"]
    assert reply.status == 200
    assert timed["time_known"] is True
    assert "houses" in timed
    assert untimed["time_known"] is False
    assert "houses" not in untimed
    assert "angles" not in untimed
    assert [body["house"] for body in untimed["bodies"]] == [0] * 10


def test_untimed_polar_batch_chart_matches_single(mesh, key):
    reply = batch(mesh, key, [{"date": "2024-01-10", "time": "12:00"}, {"date": "2024-01-11"}], **SVALBARD)
    single = vectors(mesh, key, date="2024-01-11", **SVALBARD).json()

    untimed = reply.json()["charts"][1]
    assert reply.status == 200
    assert untimed["warnings"] == single["warnings"]


def test_rest_batch_of_366_returns_every_chart(mesh, key):
    instants = daily_instants(366)

    started = time.monotonic()
    reply = batch(mesh, key, instants, prefix="/api", **NEW_YORK)
    elapsed = time.monotonic() - started

    assert reply.status == 200, reply.body[:500]
    charts = reply.json()["charts"]
    assert len(charts) == 366
    assert [chart["local_time"][:10] for chart in charts] == [instant["date"] for instant in instants]
    assert elapsed < 5.0


def test_grpc_batch_of_366_returns_every_chart(key, stub):
    instants = daily_instants(366)

    response = stub.BatchGetVectors(batch_request(instants, **NEW_YORK), metadata=[("x-api-key", key)], timeout=30)

    assert len(response.charts) == 366
    assert [chart.local_time[:10] for chart in response.charts] == [instant["date"] for instant in instants]


@pytest.mark.parametrize("count", [0, 367])
def test_rest_batch_count_out_of_range(mesh, admin, count):
    account_id, _, account_key = admin.account_with_key("pro")

    reply = batch(mesh, account_key, daily_instants(count), **NEW_YORK)

    assert reply.status == 400
    assert reply.reason() == "COUNT_OUT_OF_RANGE"
    assert list(violations(reply)) == ["instants"]
    assert f"has {count} entries;" in violations(reply)["instants"]
    assert admin.used(account_id) == 0


@pytest.mark.parametrize("count", [0, 367])
def test_grpc_batch_count_out_of_range(admin, stub, count):
    account_id, _, account_key = admin.account_with_key("pro")

    with pytest.raises(grpc.RpcError) as raised:
        stub.BatchGetVectors(batch_request(daily_instants(count), **NEW_YORK), metadata=[("x-api-key", account_key)], timeout=30)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(raised.value) == "COUNT_OUT_OF_RANGE"
    assert admin.used(account_id) == 0


def test_batch_over_32_kib_is_413_and_free(mesh, admin, stub):
    account_id, _, account_key = admin.account_with_key("pro")
    padding = "x" * (BATCH_MAX_BODY_BYTES + 1)

    reply = batch(mesh, account_key, daily_instants(3), tz=padding, **NEW_YORK)
    with pytest.raises(grpc.RpcError) as raised:
        stub.BatchGetVectors(batch_request(daily_instants(3), tz=padding, **NEW_YORK), metadata=[("x-api-key", account_key)], timeout=30)

    assert reply.status == 413
    assert reply.reason() == "BODY_TOO_LARGE"
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_reason(raised.value) == "BODY_TOO_LARGE"
    assert admin.used(account_id) == 0


def test_batch_is_charged_per_instant(mesh, admin, stub):
    account_id, _, account_key = admin.account_with_key("pro")

    rest = batch(mesh, account_key, daily_instants(5), **NEW_YORK)
    after_rest = admin.used(account_id)
    stub.BatchGetVectors(batch_request(daily_instants(7), **NEW_YORK), metadata=[("x-api-key", account_key)], timeout=30)
    after_grpc = admin.used(account_id)
    usage = http(mesh, "/v1/usage", bearer(account_key)).json()

    assert rest.status == 200
    assert after_rest == 5
    assert after_grpc == 12
    assert usage["used"] == 12


def test_repeated_batch_with_idempotency_key_is_charged_once(mesh, admin):
    account_id, _, account_key = admin.account_with_key("pro")
    headers = {**bearer(account_key), "Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
    body = json.dumps({"instants": daily_instants(4), **NEW_YORK}).encode()

    first = http(mesh, "/v1/telemetry/vectors:batch", headers, method="POST", body=body)
    again = http(mesh, "/v1/telemetry/vectors:batch", headers, method="POST", body=body)

    assert first.status == 200
    assert again.status == 200
    assert len(again.json()["charts"]) == 4
    assert admin.used(account_id) == 4


def test_batch_over_quota_is_refused_whole(mesh, admin, stub):
    account_id, _, account_key = admin.account_with_key("tiny")
    assert vectors(mesh, account_key, **NEW_YORK_2020).status == 200

    over = batch(mesh, account_key, daily_instants(3), **NEW_YORK)
    used_after_rejection = admin.used(account_id)
    with pytest.raises(grpc.RpcError) as raised:
        stub.BatchGetVectors(batch_request(daily_instants(3), **NEW_YORK), metadata=[("x-api-key", account_key)], timeout=30)
    fits = batch(mesh, account_key, daily_instants(2), **NEW_YORK)

    assert over.status == 429
    assert over.reason() == "MONTHLY_QUOTA_EXCEEDED"
    assert int(over.headers["retry-after"]) >= 1
    assert used_after_rejection == 1
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert status_detail(rich_status(raised.value), error_details_pb2.QuotaFailure).violations[0].subject == "monthly"
    assert fits.status == 200
    assert admin.used(account_id) == 3


@pytest.mark.parametrize("index, instant, field", [
    (2, {"date": "2024-02-30", "time": "12:00"}, "instants[2].date"),
    (1, {"date": "2024-01-02", "time": "25:00"}, "instants[1].time"),
    (0, {"date": "2024-01-02", "time": "12:00", "fold": 2}, "instants[0].fold"),
    (2, {"date": "1799-12-31", "time": "12:00"}, "instants[2].date"),
])
def test_bad_instant_is_named_with_its_index(mesh, key, index, instant, field):
    instants = daily_instants(3)
    instants[index] = instant

    reply = batch(mesh, key, instants, **NEW_YORK)

    assert reply.status == 400
    assert reply.reason() == "INVALID_ARGUMENT"
    assert list(violations(reply)) == [field]


def test_skipped_time_in_batch_names_its_index(mesh, key):
    instants = [{"date": "2021-03-13", "time": "02:30"}, {"date": "2021-03-14", "time": "02:30"}]

    reply = batch(mesh, key, instants, **NEW_YORK)

    assert reply.status == 400
    assert reply.reason() == "NONEXISTENT_LOCAL_TIME"
    assert list(violations(reply)) == ["instants[1].time"]


def test_grpc_bad_instant_is_named_with_its_index(key, stub):
    instants = daily_instants(3)
    instants[2] = {"date": "2024-02-30", "time": "12:00"}

    with pytest.raises(grpc.RpcError) as raised:
        stub.BatchGetVectors(batch_request(instants, **NEW_YORK), metadata=[("x-api-key", key)], timeout=30)

    bad_request = status_detail(rich_status(raised.value), error_details_pb2.BadRequest)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [violation.field for violation in bad_request.field_violations] == ["instants[2].date"]


def test_bad_shared_field_is_named_without_index(mesh, key):
    reply = batch(mesh, key, daily_instants(2), lat=91.0, lon=-74.0)

    assert reply.status == 400
    assert list(violations(reply)) == ["lat"]


def test_free_tier_may_call_the_batch(mesh, admin):
    account_id, _, account_key = admin.account_with_key("free")

    reply = batch(mesh, account_key, daily_instants(4), **NEW_YORK)

    assert reply.status == 200
    assert len(reply.json()["charts"]) == 4
    assert admin.used(account_id) == 4


# Health while a batch computes


def test_health_answers_during_large_batches(mesh, key):
    async def race() -> tuple[float, float, float]:
        public = grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.public}")
        direct = grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.telemetry[0]}")
        async with public, direct:
            stub = telemetry_pb2_grpc.TelemetryServiceStub(public)
            health = health_pb2_grpc.HealthStub(direct)
            request = batch_request(daily_instants(366), **NEW_YORK)
            started = time.monotonic()
            batches = asyncio.gather(*(stub.BatchGetVectors(request, metadata=[("x-api-key", key)], timeout=30) for _ in range(4)))
            # Let the batches reach the service before the health check is sent.
            await asyncio.sleep(0.05)

            sent = time.monotonic()
            reply = await health.Check(health_pb2.HealthCheckRequest(service="defrag.telemetry.v1.TelemetryService"), timeout=5)
            answered = time.monotonic()
            assert reply.status == health_pb2.HealthCheckResponse.SERVING

            await batches
            return answered - sent, answered - started, time.monotonic() - started

    health_seconds, health_done, batches_done = asyncio.run(race())

    assert health_seconds < HEALTH_BOUND_SECONDS
    assert health_done < batches_done


def test_long_query_reaches_service(mesh, key):
    # A 12 KB query is under the gateway's 16 KiB limit, and the REST path
    # reaches the service as metadata, past gRPC's default 8 KiB cap.
    reply = vectors(mesh, key, date="2020-01-01", time="12:00", tz="A" * 12000, **NEW_YORK)

    assert reply.status == 400
    assert list(violations(reply)) == ["tz"]


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_latitude_is_free_400(mesh, admin, value):
    account_id, _, account_key = admin.account_with_key("pro")

    reply = vectors(mesh, account_key, date="2020-01-01", time="12:00", lat=value, lon=0)

    assert reply.status == 400
    assert list(violations(reply)) == ["lat"]
    assert admin.used(account_id) == 0


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_grpc_non_finite_number_is_free_400(mesh, admin, stub, value):
    account_id, _, key = admin.account_with_key("pro")
    request = telemetry_pb2.GetVectorsRequest(**{**NEW_YORK_2020, "lat": value})

    with pytest.raises(grpc.RpcError) as raised:
        stub.GetVectors(request, metadata=[("x-api-key", key)], timeout=30)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details().startswith("lat: ")
    violation = status_detail(rich_status(raised.value), error_details_pb2.BadRequest).field_violations[0]
    assert violation.field == "lat"
    assert admin.used(account_id) == 0
