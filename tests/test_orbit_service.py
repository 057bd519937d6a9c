"""Orbit maps through the real Envoy over REST and native gRPC: contract, metering, validation and untimed births."""

import json

import grpc
import pytest
import swisseph
from google.rpc import error_details_pb2

from conftest import MAPPED_PEOPLE, bearer, error_reason, http, rich_status, status_detail
from defrag.common.v1 import common_pb2
from defrag.orbit.v1 import orbit_pb2, orbit_pb2_grpc

pytestmark = pytest.mark.integration

MAP = "/v1/orbit/map"
METHOD = "/defrag.orbit.v1.OrbitService/Map"

# Chosen on purpose from random births: Mira's chart is hard to both others'
# (friction above 0.7 each), while Dev's and Lena's are easy to each other.
MIRA = {"name": "Mira Vasquez-Orbit", "role": "child", "birth_data": {"date": "2001-12-10", "time": "05:00", "lat": -33.87, "lon": 151.21}}
DEV = {"name": "Dev Orbitson", "role": "parent", "birth_data": {"date": "1965-03-10", "time": "06:15", "lat": 19.08, "lon": 72.88}}
LENA = {"name": "Lena Orbitova", "role": "sibling", "birth_data": {"date": "1994-01-08", "time": "13:15", "lat": 48.86, "lon": 2.35}}
TRIAD = [MIRA, DEV, LENA]


def person(name: str, date: str = "1990-05-17", time: str = "09:30", role: str = "friend", **place) -> dict:
    birth = {"date": date, "lat": place.get("lat", 51.5), "lon": place.get("lon", -0.12)}
    if time:
        birth["time"] = time
    return {"name": name, "role": role, "birth_data": birth}


def orbit_map(mesh, key: str | None, people: list[dict], headers: dict | None = None, path: str = MAP):
    """POSTs a map over REST, recording the names and birth dates for the privacy checks."""
    MAPPED_PEOPLE.extend(entry["name"] for entry in people if entry.get("name", "").strip())
    sent = {"content-type": "application/json", **(bearer(key) if key else {}), **(headers or {})}
    return http(mesh, path, sent, "POST", json.dumps({"people": people}).encode())


def violations(reply) -> dict[str, str]:
    return {item["field"]: item["description"] for item in reply.detail("BadRequest")["field_violations"]}


def grpc_request(people: list[dict]) -> orbit_pb2.MapRequest:
    request = orbit_pb2.MapRequest()
    for entry in people:
        request.people.add(name=entry["name"], role=entry["role"], birth_data=common_pb2.BirthData(**entry["birth_data"]))
    MAPPED_PEOPLE.extend(entry["name"] for entry in people)
    return request


# --- the contract -----------------------------------------------------------------


def test_a_three_person_map_returns_the_contract_costs_three_calls_and_finds_the_triangulation(mesh, admin):
    account, _, key = admin.account_with_key("pro")

    reply = orbit_map(mesh, key, TRIAD, headers={"x-request-id": "orbit-contract-1"})

    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["request_id"] == "orbit-contract-1"
    assert body["timestamp"].endswith("Z")
    assert (body["geometry"], body["people_count"]) == ("triad", 3)
    assert body["model_version"].startswith("orbit-geometry-")
    assert "not a psychological assessment" in body["disclaimer"]
    keys = ["Dev Orbitson <> Lena Orbitova", "Dev Orbitson <> Mira Vasquez-Orbit", "Lena Orbitova <> Mira Vasquez-Orbit"]
    assert sorted(body["friction_matrix"]) == keys
    assert all(0.0 <= value <= 1.0 for value in body["friction_matrix"].values())
    assert [pair["key"] for pair in body["pairs"]] == keys
    for pair in body["pairs"]:
        assert pair["aspects"], pair["key"]
        for aspect in pair["aspects"]:
            assert aspect["aspect"] in ("conjunction", "sextile", "square", "trine", "opposition")
            assert aspect["motion"] in ("applying", "separating", "fixed")
            assert 0.0 <= aspect.get("orb_degrees", 0.0) <= aspect["max_orb_degrees"]
    (found,) = body["triangulation"]
    assert found["person"] == "Mira Vasquez-Orbit"
    assert found["edges"] == ["Dev Orbitson <> Mira Vasquez-Orbit", "Lena Orbitova <> Mira Vasquez-Orbit"]
    assert min(found["edge_friction"]) >= body["high_friction_threshold"]
    assert body["pressure_points"][0]["name"] == "Mira Vasquez-Orbit"
    assert body["pressure_points"][0]["role"] == "child"
    assert body["pressure_points"][0]["level"] == "high"
    assert any("Mira Vasquez-Orbit (child) sits where two high-friction pairs meet" in note for note in body["recommendations"])
    assert admin.used(account) == 3


def test_the_map_does_not_depend_on_the_order_of_the_people(mesh, admin):
    _, _, key = admin.account_with_key("pro")

    forward = orbit_map(mesh, key, TRIAD).json()
    backward = orbit_map(mesh, key, TRIAD[::-1]).json()

    for body in (forward, backward):
        del body["request_id"], body["timestamp"]
    assert forward == backward


def test_a_pair_has_the_same_friction_alone_and_in_a_group(mesh, admin):
    _, _, key = admin.account_with_key("pro")

    alone = orbit_map(mesh, key, [DEV, LENA]).json()
    group = orbit_map(mesh, key, TRIAD).json()

    pair = "Dev Orbitson <> Lena Orbitova"
    assert alone["geometry"] == "dyad"
    assert alone["friction_matrix"][pair] == group["friction_matrix"][pair]


def test_twelve_people_cost_66_calls_over_native_grpc(mesh, admin, public_channel):
    account, _, key = admin.account_with_key("pro")
    people = [person(f"Orbit Twelve {index:02d}", date=f"19{60 + 3 * index}-0{1 + index % 9}-1{index % 10}") for index in range(12)]

    response = orbit_pb2_grpc.OrbitServiceStub(public_channel).Map(
        grpc_request(people), metadata=[("authorization", f"Bearer {key}")], timeout=30)

    assert (response.geometry, response.people_count) == ("system", 12)
    assert len(response.friction_matrix) == 66
    assert len(response.pressure_points) == 12
    assert admin.used(account) == 66


# --- metering and access ------------------------------------------------------------


def test_a_free_key_gets_403_before_any_charge(mesh, admin):
    account, _, key = admin.account_with_key("free")

    reply = orbit_map(mesh, key, TRIAD)

    assert reply.status == 403
    assert admin.used(account) == 0


@pytest.mark.parametrize("count", [0, 1, 13])
def test_a_count_outside_2_to_12_gets_400_from_the_gateway_before_any_charge(mesh, admin, count):
    account, _, key = admin.account_with_key("pro")
    people = [person(f"Count {index}") for index in range(count)]

    reply = orbit_map(mesh, key, people)

    assert reply.status == 400
    assert reply.reason() == "COUNT_OUT_OF_RANGE"
    assert list(violations(reply)) == ["people"]
    assert f"has {count} {'entry' if count == 1 else 'entries'};" in violations(reply)["people"]
    assert admin.used(account) == 0


def test_a_map_that_would_pass_the_quota_is_refused_whole(mesh, admin):
    # The tiny tier allows 3 calls a month: a 3-person map fits, a 4-person map (6 calls) does not.
    account, _, key = admin.account_with_key("tiny")

    refused = orbit_map(mesh, key, [*TRIAD, person("Fourth Orbit")])
    assert refused.status == 429
    assert admin.used(account) == 0

    assert orbit_map(mesh, key, TRIAD).status == 200
    assert admin.used(account) == 3


def test_the_same_map_over_grpc_costs_the_same(mesh, admin, public_channel):
    account, _, key = admin.account_with_key("pro")

    orbit_pb2_grpc.OrbitServiceStub(public_channel).Map(
        grpc_request([*TRIAD, person("Fourth Orbit")]), metadata=[("authorization", f"Bearer {key}")], timeout=30)

    assert admin.used(account) == 6


# --- validation ----------------------------------------------------------------------


def test_duplicate_names_get_400_from_the_service_naming_the_entry(mesh, admin):
    _, _, key = admin.account_with_key("pro")

    reply = orbit_map(mesh, key, [person("Sam Orbit"), person("  sam ORBIT "), person("Kai Orbit")])

    assert reply.status == 400
    assert reply.reason() == "INVALID_ARGUMENT"
    found = violations(reply)
    assert list(found) == ["people[1].name"]
    assert "people[0].name" in found["people[1].name"]
    assert "NFKC-normalised and case-folded" in found["people[1].name"]
    # The message names the rule, never the name itself.
    assert "sam" not in reply.body.decode().lower().replace("same", "")


def test_bad_birth_data_gets_400_naming_the_entry_and_the_rule(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    bad_place = person("Bad Place Orbit", lat=95.0)
    no_lon = {"name": "No Lon Orbit", "role": "friend", "birth_data": {"date": "1990-01-01", "lat": 10.0}}
    bad_date = person("Bad Date Orbit", date="1990-02-30")

    reply = orbit_map(mesh, key, [bad_place, no_lon, bad_date])

    assert reply.status == 400
    found = violations(reply)
    assert set(found) == {"people[0].birth_data.lat", "people[1].birth_data.lon", "people[2].birth_data.date"}
    assert "-90..90" in found["people[0].birth_data.lat"]
    assert "missing" in found["people[1].birth_data.lon"]


@pytest.mark.parametrize(
    ("entry", "field", "words"),
    [
        ({"name": "", "role": "friend"}, "people[0].name", "is empty"),
        ({"name": "   ", "role": "friend"}, "people[0].name", "is empty"),
        ({"name": "x" * 65, "role": "friend"}, "people[0].name", "over the limit of 64"),
        ({"name": "Tab\tOrbit", "role": "friend"}, "people[0].name", "control character"),
        ({"name": "A <> B", "role": "friend"}, "people[0].name", '"<>"'),
        ({"name": "\u200b", "role": "friend"}, "people[0].name", "U+200B"),
        ({"name": "\ufeffBom Orbit", "role": "friend"}, "people[0].name", "U+FEFF"),
        ({"name": "ab\u202ecd", "role": "friend"}, "people[0].name", "U+202E"),
        ({"name": "\u200d\u0301", "role": "friend"}, "people[0].name", "no visible character"),
        ({"name": "\u3164", "role": "friend"}, "people[0].name", "no visible character"),
        ({"name": "\u2800", "role": "friend"}, "people[0].name", "no visible character"),
        ({"name": "No Role Orbit", "role": ""}, "people[0].role", "is missing"),
        ({"name": "Odd Role Orbit", "role": "boss"}, "people[0].role", "'boss' is not a known role: use one of parent, child, partner"),
    ],
)
def test_a_bad_name_or_role_gets_400_naming_the_rule(mesh, admin, entry, field, words):
    _, _, key = admin.account_with_key("pro")
    bad = {**entry, "birth_data": {"date": "1990-01-01", "lat": 10.0, "lon": 10.0}}

    reply = orbit_map(mesh, key, [bad, person("Other Orbit")])

    assert reply.status == 400
    assert words in violations(reply)[field]


@pytest.mark.parametrize(
    ("first", "second"),
    [("Zo\u00eb Orbit", "Zoe\u0308 Orbit"), ("Anchor Orbit", "\uff21nchor Orbit"), ("Stra\u00dfe Orbit", "STRASSE orbit")],
)
def test_names_that_look_alike_count_as_duplicates(mesh, admin, first, second):
    _, _, key = admin.account_with_key("pro")

    reply = orbit_map(mesh, key, [person(first), person(second)])

    assert reply.status == 400
    assert list(violations(reply)) == ["people[1].name"]


def test_joiners_inside_a_name_are_accepted(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    # A Persian name needs the zero-width non-joiner; an emoji sequence the zero-width joiner.
    names = ["\u0645\u06cc\u200c\u0631\u0648\u062f Orbit", "Family \U0001F468\u200d\U0001F467 Orbit"]

    reply = orbit_map(mesh, key, [person(name) for name in names])

    assert reply.status == 200, reply.body


def test_a_missing_birth_data_gets_400(mesh, admin):
    _, _, key = admin.account_with_key("pro")

    reply = orbit_map(mesh, key, [{"name": "Nobody Orbit", "role": "friend"}, person("Other Orbit")])

    assert reply.status == 400
    assert "is missing" in violations(reply)["people[0].birth_data"]


def test_a_skipped_local_time_gets_400_with_its_reason(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    # London's clocks went from 01:00 to 02:00 on 2021-03-28.
    gap = person("Gap Orbit", date="2021-03-28", time="01:30")

    reply = orbit_map(mesh, key, [person("Other Orbit"), gap])

    assert reply.status == 400
    assert reply.reason() == "NONEXISTENT_LOCAL_TIME"
    assert "people[1].birth_data.time" in violations(reply)


def test_a_400_lists_every_bad_field_including_skipped_times(mesh, admin):
    account, _, key = admin.account_with_key("pro")
    # 02:30 did not exist in New York on 2021-03-14; latitude 95 does not exist anywhere.
    gap = person("Gap Orbit", date="2021-03-14", time="02:30", lat=40.71, lon=-74.0)
    bad_place = person("Bad Place Orbit", lat=95.0)

    reply = orbit_map(mesh, key, [gap, bad_place, person("", role="friend")])

    assert reply.status == 400
    assert reply.reason() == "INVALID_ARGUMENT"
    assert list(violations(reply)) == ["people[0].birth_data.time", "people[1].birth_data.lat", "people[2].name"]
    # Admitted calls are charged even when the service rejects them, so one
    # complete list saves the caller a charged round per mistake.
    assert admin.used(account) == 3


def test_a_date_without_noon_is_blamed_on_the_date(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    # Samoa skipped 2011-12-30 when it moved west of the date line.
    skipped_day = person("Samoa Orbit", date="2011-12-30", time="", lat=-13.83, lon=-171.76)

    reply = orbit_map(mesh, key, [person("Other Orbit"), skipped_day])

    assert reply.status == 400
    assert reply.reason() == "NONEXISTENT_LOCAL_TIME"
    found = violations(reply)
    assert list(found) == ["people[1].birth_data.date"]
    assert "has no local noon" in found["people[1].birth_data.date"]


def test_a_bad_person_over_grpc_gets_invalid_argument_with_the_field(mesh, admin, public_channel):
    _, _, key = admin.account_with_key("pro")
    request = grpc_request([person("Grpc Orbit"), person("grpc orbit")])

    with pytest.raises(grpc.RpcError) as error:
        orbit_pb2_grpc.OrbitServiceStub(public_channel).Map(request, metadata=[("authorization", f"Bearer {key}")], timeout=30)

    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(error.value) == "INVALID_ARGUMENT"
    bad_request = status_detail(rich_status(error.value), error_details_pb2.BadRequest)
    assert [item.field for item in bad_request.field_violations] == ["people[1].name"]


# --- births without a time ------------------------------------------------------------


def sign_changes(body: int, date: tuple[int, int, int], utc_offset_hours: float) -> bool:
    """Whether a body changes sign during the local date, from the Swiss Ephemeris (independent of our engine)."""
    midnight = swisseph.julday(*date, 0.0) - utc_offset_hours / 24.0
    signs = {int(swisseph.calc_ut(midnight + minutes / 1440.0, body)[0][0] // 30) for minutes in range(0, 1441, 5)}
    return len(signs) > 1


def drift_from_noon(body: int, date: tuple[int, int, int], utc_offset_hours: float) -> float:
    """The farthest a body gets from its local-noon longitude during the local date, in degrees, from the Swiss Ephemeris."""
    midnight = swisseph.julday(*date, 0.0) - utc_offset_hours / 24.0
    noon, start, end = (swisseph.calc_ut(midnight + hours / 24.0, body)[0][0] for hours in (12, 0, 24))
    return max(abs((noon - start + 180.0) % 360.0 - 180.0), abs((end - noon + 180.0) % 360.0 - 180.0))


def test_a_person_without_a_time_gets_no_angles_and_is_named(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    # The Sun entered Aries at 07:35 UT on 2000-03-20 (the March equinox), so
    # it changed sign during that date in London.
    untimed = person("Equinox Orbit", date="2000-03-20", time="")

    body = orbit_map(mesh, key, [untimed, person("Timed Orbit")]).json()

    assert body["people_without_time"] == ["Equinox Orbit"]
    entry = next(point for point in body["pressure_points"] if point["name"] == "Equinox Orbit")
    assert entry.get("time_known", False) is False
    assert "ascendant" not in entry["points"] and "midheaven" not in entry["points"]
    assert "sun" not in entry["points"]
    assert "mercury" in entry["points"]
    timed = next(point for point in body["pressure_points"] if point["name"] == "Timed Orbit")
    assert timed["time_known"] is True and "ascendant" in timed["points"]
    (pair,) = body["pairs"]
    untimed_side = "point_a" if pair["person_a"] == "Equinox Orbit" else "point_b"
    assert pair["aspects"]
    assert all(aspect[untimed_side] not in ("sun", "ascendant", "midheaven") for aspect in pair["aspects"])
    assert any("Birth times for Equinox Orbit" in note for note in body["recommendations"])


def test_without_a_time_the_moon_counts_only_on_a_day_it_keeps_its_sign(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    dates = ["1987-04-11", "1987-04-12", "1987-04-13", "1987-04-14", "1987-04-15"]
    expected = {}
    found = {}
    for date in dates:
        # Greenwich; British Summer Time (UTC+1) began on 1987-03-29.
        untimed = person(f"Moon Orbit {date}", date=date, time="", lat=51.48, lon=0.0)
        body = orbit_map(mesh, key, [untimed, person("Timed Moon Orbit")]).json()
        entry = next(point for point in body["pressure_points"] if point["name"] == untimed["name"])
        found[date] = "moon" in entry["points"]
        expected[date] = not sign_changes(swisseph.MOON, tuple(map(int, date.split("-"))), 1.0)

    assert found == expected
    # The dates cover both cases, so the check can fail either way.
    assert set(expected.values()) == {True, False}


def test_without_a_time_a_body_that_changes_sign_just_after_midnight_is_kept(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    # The Sun entered Virgo at about 23:40 UT on 1980-08-22, which is 00:40
    # British Summer Time on 08-23: it stayed in Leo all of 08-22 in London.
    untimed = person("Leo Orbit", date="1980-08-22", time="")

    body = orbit_map(mesh, key, [untimed, person("Timed Leo Orbit")]).json()

    entry = next(point for point in body["pressure_points"] if point["name"] == "Leo Orbit")
    assert not sign_changes(swisseph.SUN, (1980, 8, 22), 1.0)
    assert sign_changes(swisseph.SUN, (1980, 8, 23), 1.0)
    assert "sun" in entry["points"]


def test_without_a_time_the_orb_uncertainty_is_the_day_motion_from_noon(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    untimed = person("Drift Orbit", date="1993-11-04", time="")

    body = orbit_map(mesh, key, [untimed, person("Timed Drift Orbit", date="1975-06-30", time="17:45")]).json()

    (pair,) = body["pairs"]
    untimed_side = "point_a" if pair["person_a"] == "Drift Orbit" else "point_b"
    bodies = {"sun": swisseph.SUN, "mercury": swisseph.MERCURY, "venus": swisseph.VENUS, "mars": swisseph.MARS,
              "jupiter": swisseph.JUPITER, "saturn": swisseph.SATURN}
    checked = 0
    for aspect in pair["aspects"]:
        point = aspect[untimed_side]
        if point in bodies:
            # London is on GMT in November; the partner has a birth time, so adds nothing.
            assert aspect["orb_uncertainty_degrees"] == pytest.approx(drift_from_noon(bodies[point], (1993, 11, 4), 0.0), abs=2e-3)
            if aspect["orb_uncertainty_degrees"] >= aspect["orb_degrees"]:
                assert aspect["motion"] == "uncertain"
            checked += 1
    assert checked >= 3


def test_warnings_do_not_depend_on_the_order_of_the_people(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    # Before 1847 London kept local mean time, which the response warns about.
    early = person("Early Orbit", date="1840-05-01", time="10:00")

    forward = orbit_map(mesh, key, [early, person("Later Orbit")]).json()
    backward = orbit_map(mesh, key, [person("Later Orbit"), early]).json()

    assert forward["warnings"], "the 1840 birth should carry a warning"
    assert all(warning.startswith("Early Orbit: ") for warning in forward["warnings"])
    for reply in (forward, backward):
        del reply["request_id"], reply["timestamp"]
    assert forward == backward


def test_omit_aspects_leaves_only_the_aspect_lists_out(mesh, admin):
    account, _, key = admin.account_with_key("pro")
    sent = {"content-type": "application/json", **bearer(key)}
    MAPPED_PEOPLE.extend(entry["name"] for entry in TRIAD)

    full = orbit_map(mesh, key, TRIAD).json()
    short = http(mesh, MAP, sent, "POST", json.dumps({"people": TRIAD, "omit_aspects": True}).encode()).json()

    assert all(pair["aspects"] for pair in full["pairs"])
    assert all(pair["aspects"] == [] for pair in short["pairs"])
    for reply in (full, short):
        del reply["request_id"], reply["timestamp"]
        for pair in reply["pairs"]:
            del pair["aspects"]
    assert full == short
    assert admin.used(account) == 6


def test_an_enterprise_key_maps_and_the_version_is_published(mesh, admin):
    account, _, key = admin.account_with_key("enterprise")

    reply = orbit_map(mesh, key, TRIAD)

    assert reply.status == 200
    assert reply.json()["model_version"] == "orbit-geometry-2026.12.1"
    assert admin.used(account) == 3
