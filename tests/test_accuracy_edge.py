"""Calls through Envoy match JPL Horizons to 1 arcsecond.

test_accuracy.py checks the engine in-process against every reference row.
This file sends a sample of the same rows through the public REST route, so
the whole path (transcoder, gateway, service, time handling, JSON) is held
to the bound. Sources and time scales are named in each CSV's header
under tests/data/reference/.

The API takes times to the second. Where a reference time has a fraction
of a second, the call requests the whole second before it, and the
response's longitude moves forward by its speed times the fraction. That
linear step covers under a second, and its error is far below the bound
for every body (the Moon moves 0.55 arcseconds a second).
"""

import csv
import datetime as dt
import math
import pathlib
import urllib.parse

import pytest

from conftest import bearer, http

REFERENCE = pathlib.Path(__file__).parent / "data" / "reference"
CLAIM_ARCSEC = 1.0
# Every Nth row of a file, so the sample spans its dates without a long run.
STRIDE = 25


def rows(file_name: str, kind: str) -> list[dict[str, str]]:
    with open(REFERENCE / file_name, encoding="utf-8") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    return [row for row in csv.DictReader(lines) if row["kind"] == kind]


def split_time(text: str) -> tuple[str, str, float]:
    """Split an ISO time into the API's date and whole-second time, and the fraction of a second left over."""
    instant = dt.datetime.fromisoformat(text)
    whole = instant.replace(microsecond=0)
    return whole.date().isoformat(), whole.strftime("%H:%M:%S"), instant.microsecond / 1e6


def separation_arcsec(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Return the angle between two directions on the sphere, in arcseconds."""
    lon1, lat1, lon2, lat2 = map(math.radians, (lon1, lat1, lon2, lat2))
    # The haversine form keeps its digits for the small angles measured here.
    half = math.sin((lat2 - lat1) / 2.0) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2.0) ** 2
    return math.degrees(2.0 * math.asin(math.sqrt(half))) * 3600.0


def body_of(reply, name: str) -> dict:
    return next(body for body in reply.json()["bodies"] if body["body"] == name.lower())


GEOCENTRIC = rows("horizons_obseclon_geocentric_tt_panchang.csv", "apparent_geocentric_ecliptic_of_date")[::STRIDE]
TOPOCENTRIC = [
    row
    for row in rows("horizons_apparent_radec_astropy_tests.csv", "apparent_topocentric_of_date")
    if row["time_scale"] == "UTC"
]


@pytest.fixture(scope="module")
def key(admin):
    _, _, plaintext = admin.account_with_key("bulk")
    return plaintext


@pytest.mark.parametrize("row", GEOCENTRIC, ids=lambda row: f"{row['body']}-{row['time']}")
def test_ecliptic_of_date_in_tt(mesh, key, row):
    date, time, fraction = split_time(row["time"])
    query = urllib.parse.urlencode({"date": date, "time": time, "time_scale": "tt", "lat": 0, "lon": 0})

    reply = http(mesh, f"/v1/telemetry/vectors?{query}", bearer(key))
    assert reply.status == 200, reply.body[:500]
    body = body_of(reply, row["body"])
    longitude = body["ecliptic"]["longitude_degrees"] + body["speed_degrees_per_day"] * fraction / 86400.0

    error = separation_arcsec(longitude, body["ecliptic_latitude_degrees"], float(row["ecl_lon_deg"]), float(row["ecl_lat_deg"]))
    assert error < CLAIM_ARCSEC


@pytest.mark.parametrize("row", TOPOCENTRIC, ids=lambda row: f"{row['body']}-{row['time']}")
def test_topocentric_ra_dec_in_utc(mesh, key, row):
    date, time, fraction = split_time(row["time"])
    assert fraction == 0.0
    query = urllib.parse.urlencode({
        "date": date,
        "time": time,
        "utc_offset": "+00:00",
        "lat": row["site_lat_deg"],
        "lon": row["site_lon_deg"],
        "elevation_meters": row["site_height_m"],
    })

    reply = http(mesh, f"/v1/telemetry/vectors?{query}", bearer(key))
    assert reply.status == 200, reply.body[:500]
    body = body_of(reply, row["body"])

    error = separation_arcsec(body["ra_degrees"], body["dec_degrees"], float(row["ra_deg"]), float(row["dec_deg"]))
    assert error < CLAIM_ARCSEC
