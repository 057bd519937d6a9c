"""The gRPC shell of the orbit service: validate, compute natal points, map, build the response.

Positions come from the position engine (defrag.sky) in this process, one
chart per person; the geometry comes from services.orbit.geometry. Names
and birth data are echoed in the response only: they never reach a log
line, a metric label or an error message.
"""

import asyncio
import dataclasses
import datetime as dt
import re
import time
import unicodedata

import grpc
import numpy as np
from google.protobuf import descriptor as pb_descriptor
from prometheus_client import Counter, Histogram

from defrag import birthdata, ephemeris, localtime, sky
from defrag.platform.calls import format_timestamp, request_id
from defrag.platform.errors import FieldViolation, invalid_argument
from defrag.orbit.v1 import orbit_pb2, orbit_pb2_grpc
from services.orbit import advice, geometry

SERVICE_DESCRIPTOR = orbit_pb2.DESCRIPTOR.services_by_name["OrbitService"]

ROLES = ("parent", "child", "partner", "sibling", "friend", "colleague", "other")
# The gateway checks this range before any charge; the service checks it again.
PEOPLE_LIMITS = (2, 12)
MAX_NAME_LENGTH = 64  # Unicode code points, after trimming
# Joins two names in a pair key, so no name may contain it.
KEY_SEPARATOR = "<>"
# Format characters (Unicode category Cf) allowed in names: the zero-width
# non-joiner and joiner, which Persian, Indic scripts and emoji sequences need.
JOINERS = frozenset({"\u200c", "\u200d"})
# A name made only of these, default-ignorable characters, the blank braille
# pattern and spaces shows nothing.
INVISIBLE_CATEGORIES = frozenset({"Cf", "Mn", "Me"})
BRAILLE_BLANK = "\u2800"
# Unicode's Default_Ignorable_Code_Point characters (DerivedCoreProperties.txt,
# Unicode 15), which render as nothing: the duplicate check ignores them.
DEFAULT_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u3164\ufe00-\ufe0f\ufeff\uffa0\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)

MAPS_PEOPLE = Histogram(
    "defrag_orbit_map_people", "People per orbit map answered.", buckets=tuple(range(2, 13)),
)
MAP_SECONDS = Histogram(
    "defrag_orbit_compute_duration_seconds",
    "Time to compute one map (charts, geometry and response), measured in the worker thread.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.0175, 0.02, 0.025, 0.03, 0.05, 0.1, 0.25),
)
TRIANGULATIONS = Counter("defrag_orbit_triangulations_total", "Triangulations found in answered maps.")


@dataclasses.dataclass(frozen=True)
class _Person:
    """One validated person: the name as given, the role, the resolved time and the place."""

    name: str
    role: str
    reading: localtime.LocalReading
    resolved: localtime.ResolvedTime
    observer: sky.Observer
    index: int


class OrbitServicer(orbit_pb2_grpc.OrbitServiceServicer):
    """Serves defrag.orbit.v1.OrbitService."""

    async def Map(self, request: orbit_pb2.MapRequest, context: grpc.aio.ServicerContext) -> orbit_pb2.MapResponse:
        people = read_request(request)
        # A 12-person map takes milliseconds of CPU; a worker thread keeps
        # the event loop free for health checks meanwhile.
        return await asyncio.to_thread(compute_response, request_id(context), people, not request.omit_aspects)


def register(server: grpc.aio.Server) -> list[pb_descriptor.ServiceDescriptor]:
    """Add the orbit servicer to a server and return its descriptor for health and metrics."""
    orbit_pb2_grpc.add_OrbitServiceServicer_to_server(OrbitServicer(), server)
    return [SERVICE_DESCRIPTOR]


# --- validation -------------------------------------------------------------


def read_request(request: orbit_pb2.MapRequest) -> list[_Person]:
    """Check every person and resolve each birth time, raising one 400 that lists every bad field in request order."""
    count = len(request.people)
    low, high = PEOPLE_LIMITS
    if not low <= count <= high:
        raise invalid_argument([FieldViolation("people", f"has {count} {_entries(count)}, outside the allowed {low}..{high}: send {low} to {high} people per map")])

    violations: list[FieldViolation] = []
    skipped_times = 0
    people = []
    first_index_of: dict[str, int] = {}
    for index, person in enumerate(request.people):
        prefix = f"people[{index}]."
        name_violations = check_name(person.name, prefix)
        violations += name_violations
        if not name_violations:
            folded = comparable_name(person.name)
            if folded in first_index_of:
                violations.append(FieldViolation(
                    f"{prefix}name",
                    f"is the same as people[{first_index_of[folded]}].name once trimmed, NFKC-normalised and case-folded: "
                    "give each person a distinct name",
                ))
            first_index_of.setdefault(folded, index)
        violations += check_role(person.role, prefix)
        if not person.HasField("birth_data"):
            violations.append(FieldViolation(f"{prefix}birth_data", "is missing: send {date, time (optional), lat, lon} for each person"))
            continue

        reading, errors = birthdata.read_birth_data(person.birth_data, place_required=True)
        violations += [FieldViolation(f"{prefix}birth_data.{error.field}", error.description) for error in errors]
        if errors:
            continue
        try:
            people.append(_resolve(person, reading, index))
        except localtime.InvalidField as error:
            skipped_times += isinstance(error, localtime.NonexistentLocalTime)
            violations.append(_time_violation(error, reading, prefix))
    if violations:
        # The reason is the specific one only when every violation is a skipped local time.
        reason = "NONEXISTENT_LOCAL_TIME" if skipped_times == len(violations) else "INVALID_ARGUMENT"
        raise invalid_argument(violations, reason=reason)
    return people


def comparable_name(name: str) -> str:
    """Return the form in which two names count as the same: without invisible characters, NFKC-normalised, case-folded and trimmed.

    NFKC makes compatibility forms such as a fullwidth "Ａ" or a decomposed
    "ë" equal to their plain forms. Case folding can undo NFKC (Greek letters
    with two accents), so the result is normalised again.
    NOTE: letters of other scripts that look alike (Latin "a", Cyrillic "а")
    still count as different, as Unicode's confusable tables are not applied.
    """
    visible = DEFAULT_IGNORABLE.sub("", name)
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", visible).casefold()).strip()


def check_name(name: str, prefix: str) -> list[FieldViolation]:
    field = f"{prefix}name"
    trimmed = name.strip()
    if not trimmed:
        return [FieldViolation(field, f"is empty: give each person a name of 1 to {MAX_NAME_LENGTH} characters")]
    if len(trimmed) > MAX_NAME_LENGTH:
        return [FieldViolation(field, f"is {len(trimmed)} code points long, over the limit of {MAX_NAME_LENGTH}: send a shorter name or initials")]
    categories = [unicodedata.category(character) for character in name]
    if "Cc" in categories:
        return [FieldViolation(field, "contains a control character (such as a newline or tab): send the name on one line")]
    hidden = next((character for character, category in zip(name, categories)
                   if category == "Cf" and character not in JOINERS), None)
    if hidden is not None:
        return [FieldViolation(
            field,
            f"contains the invisible format character U+{ord(hidden):04X} (such as a zero-width space, a byte-order mark "
            "or a direction override): remove it",
        )]
    if all(character.isspace() or character == BRAILLE_BLANK or DEFAULT_IGNORABLE.match(character)
           or unicodedata.category(character) in INVISIBLE_CATEGORIES for character in trimmed):
        return [FieldViolation(field, "has no visible character: give each person a readable name")]
    if KEY_SEPARATOR in name:
        return [FieldViolation(field, f'contains "{KEY_SEPARATOR}", which separates the two names of a pair key: remove it from the name')]
    return []


def check_role(role: str, prefix: str) -> list[FieldViolation]:
    if role in ROLES:
        return []
    problem = "is missing" if not role else f"{localtime.shown(role, 32)} is not a known role"
    return [FieldViolation(f"{prefix}role", f"{problem}: use one of {', '.join(ROLES)}")]


def _entries(count: int) -> str:
    return "entry" if count == 1 else "entries"


def _resolve(person: orbit_pb2.Person, reading: localtime.LocalReading, index: int) -> _Person:
    """Apply the person's zone to the birth time. Raises localtime.InvalidField for a skipped time or an unknown zone."""
    birth = person.birth_data
    observer = sky.Observer(birth.lat, birth.lon, birth.elevation_meters if birth.HasField("elevation_meters") else 0.0)
    resolved = localtime.resolve(reading, observer.lat, observer.lon)
    return _Person(person.name, person.role, reading, resolved, observer, index)


def _time_violation(error: localtime.InvalidField, reading: localtime.LocalReading, prefix: str) -> FieldViolation:
    """Name the field of a birth time that cannot be applied; without a time, a skipped noon is the date's fault."""
    if isinstance(error, localtime.NonexistentLocalTime) and not reading.time_known:
        return FieldViolation(
            f"{prefix}birth_data.date",
            f"{reading.local.date().isoformat()} has no local noon in this place's zone, because the clocks skipped that "
            "part of the day (or the whole day): check the date, or send the birth time or a utc_offset",
        )
    return FieldViolation(f"{prefix}birth_data.{error.field}", error.description)


# --- computation ------------------------------------------------------------


def natal_points(person: _Person) -> geometry.Natal:
    """Compute the points of one person's chart: every body and both angles, or without a time the day-fixed bodies.

    Raises INVALID_ARGUMENT when the birth falls outside the ephemeris.
    """
    noon_or_birth = sky.julian_date(person.resolved.utc)
    time_known = person.resolved.time_known
    if time_known:
        jd = np.array([noon_or_birth])
    else:
        day_start, next_day_start = localtime.local_day_bounds(person.reading, person.observer.lat, person.observer.lon)
        jd = np.array([sky.julian_date(day_start), noon_or_birth, sky.julian_date(next_day_start)])
    try:
        charts = sky.compute_charts(jd, "utc", person.observer, sky.Options(time_known=time_known))
    except ephemeris.OutsideEphemeris:
        raise invalid_argument([FieldViolation(
            f"people[{person.index}].birth_data.date",
            f"falls outside the {ephemeris.KERNEL} ephemeris: send a date from {sky.FIRST_YEAR:04d}-01-01 to {sky.LAST_YEAR:04d}-12-31",
        )]) from None

    if time_known:
        ascendant, midheaven = float(charts.angles[0, 0]), float(charts.angles[0, 1])
        return geometry.Natal(
            name=person.name,
            role=person.role,
            time_known=True,
            points=geometry.POINTS,
            longitude=np.concatenate([charts.longitude[0], [ascendant, midheaven]]),
            # The angles count as fixed points: see geometry.motion.
            speed=np.concatenate([charts.speed[0], [0.0, 0.0]]),
            uncertainty=np.zeros(len(geometry.POINTS)),
        )

    # A body keeps its sign all day when its sign at local midnight at both
    # ends of the birth date is its sign at noon.
    # NOTE: a body at a station within minutes of arc of a sign's edge could
    # leave and re-enter the sign within the day. That is not checked, because
    # near a station no body moves far enough in a day for it to matter.
    steady = (charts.sign[0] == charts.sign[1]) & (charts.sign[2] == charts.sign[1])
    noon = charts.longitude[1]
    drift = np.maximum(geometry.separation(noon, charts.longitude[0]), geometry.separation(noon, charts.longitude[2]))
    columns = np.nonzero(steady)[0]
    return geometry.Natal(
        name=person.name,
        role=person.role,
        time_known=False,
        points=tuple(geometry.BODIES[column] for column in columns),
        longitude=noon[columns],
        speed=charts.speed[1][columns],
        uncertainty=drift[columns],
    )


def compute_response(request_id_value: str, people: list[_Person], with_aspects: bool = True) -> orbit_pb2.MapResponse:
    started = time.perf_counter()
    natals = [natal_points(person) for person in people]
    orbit_map = geometry.map_people(natals)
    response = build_response(request_id_value, people, natals, orbit_map, with_aspects)
    MAP_SECONDS.observe(time.perf_counter() - started)
    MAPS_PEOPLE.observe(len(people))
    TRIANGULATIONS.inc(len(orbit_map.triangulations))
    return response


def geometry_name(count: int) -> str:
    return {2: "dyad", 3: "triad"}.get(count, "system")


def build_response(
    request_id_value: str, people: list[_Person], natals: list[geometry.Natal], orbit_map: geometry.OrbitMap,
    with_aspects: bool = True,
) -> orbit_pb2.MapResponse:
    natal_by_name = {natal.name: natal for natal in natals}
    roles = {person.name: person.role for person in people}
    without_time = sorted(natal.name for natal in natals if not natal.time_known)

    response = orbit_pb2.MapResponse(
        request_id=request_id_value,
        timestamp=format_timestamp(dt.datetime.now(dt.UTC), "milliseconds"),
        geometry=geometry_name(len(people)),
        people_count=len(people),
        people_without_time=without_time,
        high_friction_threshold=geometry.HIGH_FRICTION,
        model_version=geometry.MODEL_VERSION,
        disclaimer=advice.DISCLAIMER,
        recommendations=advice.recommendations(orbit_map, roles, without_time),
    )
    for pair in orbit_map.pairs:
        response.friction_matrix[pair.key] = pair.friction
        message = response.pairs.add(
            key=pair.key, person_a=pair.person_a, person_b=pair.person_b,
            friction=pair.friction, tension=pair.tension, ease=pair.ease,
        )
        # Adding each aspect in place is about twice as fast as building the
        # messages first, which the container would then copy (bench/orbit.py).
        add_aspect = message.aspects.add
        for aspect in pair.aspects if with_aspects else ():
            add_aspect(
                point_a=aspect.point_a,
                point_b=aspect.point_b,
                aspect=aspect.kind.name,
                angle_degrees=aspect.kind.angle,
                separation_degrees=aspect.separation,
                orb_degrees=aspect.orb,
                max_orb_degrees=aspect.max_orb,
                motion=aspect.motion,
                effect=aspect.effect,
                contribution=aspect.contribution,
                orb_uncertainty_degrees=aspect.orb_uncertainty,
            )
    for point in orbit_map.pressure:
        natal = natal_by_name[point.name]
        response.pressure_points.append(orbit_pb2.PressurePoint(
            name=point.name,
            role=point.role,
            average_friction=point.average_friction,
            level=point.level,
            interpretation=advice.interpretation(point),
            tensest_with=point.tensest_with,
            time_known=natal.time_known,
            points=natal.points,
        ))
    for item in orbit_map.triangulations:
        response.triangulation.append(orbit_pb2.Triangulation(
            person=item.person,
            people=item.people,
            edges=item.edges,
            edge_friction=item.edge_friction,
            third_edge=item.third_edge,
            third_edge_friction=item.third_edge_friction,
            all_edges_high=item.all_edges_high,
        ))
    # people_without_time already names who had no time, and noon is not
    # the moment a map without a time uses, so that warning is left out.
    # Warnings name the person, not the index, so they do not depend on the request's order.
    for person in sorted(people, key=lambda person: person.name):
        response.warnings.extend(f"{person.name}: {warning}" for warning in person.resolved.warnings
                                 if warning != localtime.NOON_WARNING)
    return response

