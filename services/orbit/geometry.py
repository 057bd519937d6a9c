"""Orbit geometry: aspects between natal charts, friction per pair, pressure and triangulation.

Pure: it takes each person's ecliptic longitudes and speeds and returns
numbers. It imports no gRPC and computes no positions (the service gets
them from defrag.sky). The weights, orbs and thresholds below are the
published method (docs/orbit-method.md); change MODEL_VERSION with them.

Friction of a pair of people A and B:

    contribution of an aspect = weight(point of A) * weight(point of B)
                                * (1 - orb / max orb) * strength
    tension  = sum of the contributions of hard aspects
    ease     = sum of the contributions of soft aspects
    friction = tension / (tension + ease + FRICTION_PRIOR)

Every factor is symmetric in the two points and the sums are exactly
rounded, so the value depends on the two charts alone. It does not change
with the order of the request, with anyone else in the group, or with which
of the two names sorts first.

The numbers are astrological geometry, not a psychological assessment.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import typing

import numpy as np

MODEL_VERSION = "orbit-geometry-2026.12.1"

BODIES = ("sun", "moon", "mercury", "venus", "mars", "jupiter", "saturn", "uranus", "neptune", "pluto")
ANGLES = ("ascendant", "midheaven")
POINTS = BODIES + ANGLES

# Weight of each point in a contribution. The luminaries and the angles weigh
# most, the personal planets next, the slow outer planets least, because
# everyone born within a few years shares their positions.
POINT_WEIGHTS = {
    "sun": 1.0, "moon": 1.0, "ascendant": 0.9, "midheaven": 0.8,
    "mercury": 0.5, "venus": 0.6, "mars": 0.7, "jupiter": 0.5, "saturn": 0.7,
    "uranus": 0.3, "neptune": 0.3, "pluto": 0.3,
}
LUMINARIES = frozenset({"sun", "moon"})
MALEFICS = frozenset({"mars", "saturn", "pluto"})
BENEFICS = frozenset({"venus", "jupiter"})
PERSONAL_POINTS = frozenset({"sun", "moon", "mercury", "venus", "mars", "ascendant", "midheaven"})

# Extra orb, in degrees, when either point is the Sun or the Moon.
LUMINARY_ORB_BONUS = 2.0

TENSION = "tension"
EASE = "ease"
NEUTRAL = "neutral"


@dataclasses.dataclass(frozen=True)
class AspectKind:
    """One aspect: its exact angle and orb in degrees, its effect and strength."""

    name: str
    angle: float
    orb: float
    effect: str  # TENSION, EASE, or "conjunction" (decided by the two points)
    strength: float


CONJUNCTION = "conjunction"

ASPECTS: tuple[AspectKind, ...] = (
    AspectKind(CONJUNCTION, 0.0, 8.0, CONJUNCTION, 1.0),
    AspectKind("sextile", 60.0, 4.0, EASE, 0.6),
    AspectKind("square", 90.0, 6.0, TENSION, 1.0),
    AspectKind("trine", 120.0, 6.0, EASE, 1.0),
    AspectKind("opposition", 180.0, 8.0, TENSION, 0.9),
)
# A conjunction that eases (Venus or Jupiter, no malefic on a personal point) counts at this strength.
EASING_CONJUNCTION_STRENGTH = 0.5

# friction = tension / (tension + ease + FRICTION_PRIOR): about the share of
# the weighted aspects that are hard. The prior keeps a pair with a few weak
# aspects near 0 instead of letting one faint square make it 1.
FRICTION_PRIOR = 1.0
# From tools/calibrate_orbit.py (20,000 random pairs of births 1940-2015):
# high is about the top 15% of pairs, moderate the upper half.
HIGH_FRICTION = 0.58
MODERATE_FRICTION = 0.48

# Friction and contributions are rounded so that a client sees the same
# digits whatever the platform's last-bit float behaviour.
DECIMALS = 4

APPLYING = "applying"
SEPARATING = "separating"
FIXED = "fixed"  # neither point moves relative to the other (two angles)
UNCERTAIN = "uncertain"  # without a birth time, the aspect may have been exact during the day


@dataclasses.dataclass(frozen=True)
class Natal:
    """The points of one person's chart used in the map.

    longitude and speed are per point in degrees and degrees per day
    (angles have speed 0). uncertainty is how far a point may be from the
    longitude given, in degrees, because the birth time is unknown (0 for
    a known time).
    """

    name: str
    role: str
    time_known: bool
    points: tuple[str, ...]
    longitude: np.ndarray
    speed: np.ndarray
    uncertainty: np.ndarray


class Aspect(typing.NamedTuple):
    """One aspect between a point of person_a and a point of person_b of a pair, in degrees.

    separation, orb, contribution and orb_uncertainty are rounded to DECIMALS.
    """

    point_a: str
    point_b: str
    kind: AspectKind
    separation: float
    orb: float
    max_orb: float
    motion: str
    effect: str
    contribution: float
    orb_uncertainty: float


@dataclasses.dataclass(frozen=True)
class Pair:
    person_a: str
    person_b: str
    friction: float
    tension: float
    ease: float
    aspects: tuple[Aspect, ...]

    @property
    def key(self) -> str:
        return pair_key(self.person_a, self.person_b)


@dataclasses.dataclass(frozen=True)
class Pressure:
    name: str
    role: str
    average_friction: float
    level: str
    tensest_with: str
    tensest_friction: float


@dataclasses.dataclass(frozen=True)
class Triangulation:
    person: str
    people: tuple[str, str, str]
    edges: tuple[str, str]
    edge_friction: tuple[float, float]
    third_edge: str
    third_edge_friction: float
    all_edges_high: bool


@dataclasses.dataclass(frozen=True)
class OrbitMap:
    pairs: tuple[Pair, ...]  # in code-point order of the key
    pressure: tuple[Pressure, ...]  # highest average friction first
    triangulations: tuple[Triangulation, ...]


def pair_key(first: str, second: str) -> str:
    """Return "A <> B" with the two names in code-point order."""
    low, high = sorted((first, second))
    return f"{low} <> {high}"


def separation(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Return the angles between longitudes in degrees, 0..180, the short way across the 0/360 wrap.

    |a - b| is the same float as |b - a|, so the result does not depend on the argument order.
    """
    difference = np.abs(first - second) % 360.0
    return np.where(difference > 180.0, 360.0 - difference, difference)


def conjunction_effect(point_a: str, point_b: str) -> tuple[str, float]:
    """Return the effect and strength of a conjunction between two points.

    It adds tension when a malefic of one person falls on a personal point of
    the other. It eases when Venus or Jupiter takes part and no malefic does.
    Otherwise it is neutral, for example Saturn on Saturn, which everyone
    born within a year or so shares.
    """
    if (point_a in MALEFICS and point_b in PERSONAL_POINTS) or (point_b in MALEFICS and point_a in PERSONAL_POINTS):
        return TENSION, 1.0
    if (point_a in BENEFICS or point_b in BENEFICS) and not (point_a in MALEFICS or point_b in MALEFICS):
        return EASE, EASING_CONJUNCTION_STRENGTH
    return NEUTRAL, 0.0


_EFFECT_CODES = {TENSION: 1, EASE: -1, NEUTRAL: 0}
_EFFECT_NAMES = {code: name for name, code in _EFFECT_CODES.items()}


@dataclasses.dataclass(frozen=True)
class _Tables:
    """Lookup arrays of the aspect search, indexed by POINTS: (12, 12) and (12, 12, K)."""

    weight: np.ndarray  # product of the two point weights
    limit: np.ndarray  # max orb of each aspect kind
    effect: np.ndarray  # 1 tension, -1 ease, 0 neutral
    strength: np.ndarray
    angle: np.ndarray  # (K,)


@functools.lru_cache(maxsize=8)
def _tables(aspects: tuple[AspectKind, ...]) -> _Tables:
    shape = (len(POINTS), len(POINTS), len(aspects))
    limit = np.empty(shape)
    effect = np.empty(shape, dtype=np.int8)
    strength = np.empty(shape)
    for row, point_a in enumerate(POINTS):
        for column, point_b in enumerate(POINTS):
            bonus = LUMINARY_ORB_BONUS if point_a in LUMINARIES or point_b in LUMINARIES else 0.0
            for index, kind in enumerate(aspects):
                kind_effect, kind_strength = kind.effect, kind.strength
                if kind_effect == CONJUNCTION:
                    kind_effect, kind_strength = conjunction_effect(point_a, point_b)
                limit[row, column, index] = kind.orb + bonus
                effect[row, column, index] = _EFFECT_CODES[kind_effect]
                strength[row, column, index] = kind_strength
    weight = np.array([[POINT_WEIGHTS[a] * POINT_WEIGHTS[b] for b in POINTS] for a in POINTS])
    return _Tables(weight, limit, effect, strength, np.array([kind.angle for kind in aspects]))


_POINT_ORDER = {point: index for index, point in enumerate(POINTS)}


def _slots(people: list[Natal]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Spread each person's points into (P, 12) arrays indexed by POINTS, with a mask of the points present."""
    shape = (len(people), len(POINTS))
    longitude, speed, uncertainty = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    present = np.zeros(shape, dtype=bool)
    for row, person in enumerate(people):
        columns = [_POINT_ORDER[point] for point in person.points]
        longitude[row, columns] = person.longitude
        speed[row, columns] = person.speed
        uncertainty[row, columns] = person.uncertainty
        present[row, columns] = True
    return longitude, speed, uncertainty, present


def _pairs(ordered: list[Natal], aspects: tuple[AspectKind, ...]) -> tuple[Pair, ...]:
    """Compute every pair of a group sorted by name, all pairs in one pass of array arithmetic.

    Each pair's values come from its own two rows alone. Every step is
    symmetric in the two points and the sums are exactly rounded (math.fsum).
    So a pair gets the same bits in any group, in any request order, and
    whichever of its two names sorts first. For each two points the aspect
    nearest to exact is taken. When two aspects' orbs overlap, the smaller orb
    wins, and on a tie the aspect listed first.
    """
    tables = _tables(aspects)
    longitude, speed, uncertainty, present = _slots(ordered)
    first, second = np.triu_indices(len(ordered), 1)  # person_a sorts before person_b

    # 1. Separations 0..180 across the 0/360 wrap: (pair, A's point, B's point).
    distance = separation(longitude[second][:, None, :], longitude[first][:, :, None])

    # 2. The nearest aspect within its orb, for each two points that both people have.
    orbs = np.abs(distance[..., None] - tables.angle)
    within = np.where(orbs <= tables.limit, orbs, np.inf)
    within[~(present[first][:, :, None] & present[second][:, None, :])] = np.inf
    nearest = within.argmin(axis=3)
    nearest_orb = np.take_along_axis(within, nearest[..., None], axis=3)[..., 0]
    pair, rows, columns = np.nonzero(np.isfinite(nearest_orb))
    kinds = nearest[pair, rows, columns]
    orb = nearest_orb[pair, rows, columns]
    limit = tables.limit[rows, columns, kinds]

    # 3. Contributions; every factor is symmetric in the two points.
    effect = tables.effect[rows, columns, kinds]
    contribution = tables.weight[rows, columns] * (1.0 - orb / limit) * tables.strength[rows, columns, kinds]
    count = len(first)

    # 4. Applying or separating, each point moving at its natal speed.
    relative = speed[second[pair], columns] - speed[first[pair], rows]
    arc = (longitude[second[pair], columns] - longitude[first[pair], rows]) % 360.0
    # The separation grows with the forward arc while the arc is under 180
    # degrees and shrinks with it beyond. At exactly 0 it can only grow, and
    # at exactly 180 it can only shrink.
    rate = np.where(arc <= 180.0, relative, -relative)
    rate = np.where(arc == 0.0, np.abs(relative), np.where(arc == 180.0, -np.abs(relative), rate))
    offset = distance[pair, rows, columns] - tables.angle[kinds]
    motions = np.where(relative == 0.0, FIXED, np.where((offset != 0.0) & (offset * rate < 0.0), APPLYING, SEPARATING))
    # Without a birth time a point may lie as far as its uncertainty from the
    # longitude used. When that covers the orb, the aspect may have been exact
    # during the day, so the direction is unknown.
    orb_uncertainty = uncertainty[first[pair], rows] + uncertainty[second[pair], columns]
    motions = np.where((orb_uncertainty > 0.0) & (orb_uncertainty >= orb), UNCERTAIN, motions)

    # 5. Aspects grouped by pair, the strongest (as rounded) first, then in POINTS order.
    rounded_contribution = np.round(contribution, DECIMALS)
    order = np.lexsort((columns, rows, -rounded_contribution, pair))
    starts = np.searchsorted(pair[order], np.arange(count + 1))
    columns_of = {
        "pair": pair, "rows": rows, "columns": columns, "kinds": kinds,
        "separation": np.round(distance[pair, rows, columns], DECIMALS), "orb": np.round(orb, DECIMALS),
        "limit": limit, "motion": motions, "effect": effect, "contribution": rounded_contribution,
        "uncertainty": np.round(orb_uncertainty, DECIMALS),
    }
    exact_contributions = contribution[order].tolist()
    effects = effect[order].tolist()
    values = {name: array[order].tolist() for name, array in columns_of.items()}
    aspects_of = [
        Aspect(POINTS[row], POINTS[column], aspects[kind], separation_value, orb_value, limit_value, motion_value,
               _EFFECT_NAMES[effect_code], contribution_value, uncertainty_value)
        for row, column, kind, separation_value, orb_value, limit_value, motion_value, effect_code, contribution_value, uncertainty_value
        in zip(values["rows"], values["columns"], values["kinds"], values["separation"], values["orb"], values["limit"],
               values["motion"], values["effect"], values["contribution"], values["uncertainty"])
    ]

    pairs = []
    for index, (a, b) in enumerate(zip(first.tolist(), second.tolist())):
        span = range(starts[index], starts[index + 1])
        # fsum is exactly rounded, so the sums do not depend on the order of the terms.
        pair_tension = math.fsum(exact_contributions[i] for i in span if effects[i] == 1)
        pair_ease = math.fsum(exact_contributions[i] for i in span if effects[i] == -1)
        friction = pair_tension / (pair_tension + pair_ease + FRICTION_PRIOR)
        pairs.append(Pair(
            ordered[a].name, ordered[b].name, round(friction, DECIMALS), round(pair_tension, DECIMALS),
            round(pair_ease, DECIMALS), tuple(aspects_of[starts[index]:starts[index + 1]]),
        ))
    pairs.sort(key=lambda item: item.key)
    return tuple(pairs)


def pair_geometry(first: Natal, second: Natal, aspects: tuple[AspectKind, ...] = ASPECTS) -> Pair:
    """Return every aspect between two people's points and the pair's friction, whatever the argument order."""
    return _pairs(sorted((first, second), key=lambda person: person.name), aspects)[0]


def level_of(friction: float) -> str:
    if friction >= HIGH_FRICTION:
        return "high"
    if friction >= MODERATE_FRICTION:
        return "moderate"
    return "low"


def map_people(people: list[Natal], aspects: tuple[AspectKind, ...] = ASPECTS) -> OrbitMap:
    """Compute the pairs, the pressure on each person and the triangulations of a group.

    Names must be distinct; the result does not depend on the order of `people`.
    """
    ordered = sorted(people, key=lambda person: person.name)
    pairs = _pairs(ordered, aspects)
    friction = {(pair.person_a, pair.person_b): pair.friction for pair in pairs}
    return OrbitMap(pairs, _pressure(ordered, friction), _triangulations(ordered, friction))


def _edge(friction: dict[tuple[str, str], float], first: str, second: str) -> float:
    return friction[(first, second) if first <= second else (second, first)]


def _pressure(ordered: list[Natal], friction: dict[tuple[str, str], float]) -> tuple[Pressure, ...]:
    points = []
    for person in ordered:
        others = [(other.name, _edge(friction, person.name, other.name)) for other in ordered if other.name != person.name]
        average = round(sum(value for _, value in others) / len(others), DECIMALS)
        # The tensest tie; on a tie of friction, the name first in code-point order.
        tensest, tensest_friction = min(others, key=lambda item: (-item[1], item[0]))
        points.append(Pressure(person.name, person.role, average, level_of(average), tensest, tensest_friction))
    points.sort(key=lambda point: (-point.average_friction, point.name))
    return tuple(points)


def _triangulations(ordered: list[Natal], friction: dict[tuple[str, str], float]) -> tuple[Triangulation, ...]:
    """Find every triad where two high-friction pairs meet at one person.

    Two high edges share exactly one person, who is named. When all three
    edges are high, every person is such a meeting point, and the one whose
    two edges sum highest is named (on a tie, the first in code-point order).
    """
    found = []
    names = [person.name for person in ordered]
    for triad in itertools.combinations(names, 3):
        candidates = []
        for person in triad:
            first, second = (other for other in triad if other != person)
            edges = (_edge(friction, person, first), _edge(friction, person, second))
            if min(edges) >= HIGH_FRICTION:
                candidates.append((person, first, second, edges))
        if not candidates:
            continue
        person, first, second, edges = min(candidates, key=lambda item: (-(item[3][0] + item[3][1]), item[0]))
        third = _edge(friction, first, second)
        found.append(Triangulation(
            person=person,
            people=triad,
            edges=(pair_key(person, first), pair_key(person, second)),
            edge_friction=edges,
            third_edge=pair_key(first, second),
            third_edge_friction=third,
            all_edges_high=third >= HIGH_FRICTION,
        ))
    return tuple(found)
