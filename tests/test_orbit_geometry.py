"""Orbit geometry on hand-built charts: every expected value below is worked out by hand from the published weights."""

import dataclasses
import itertools
import random

import numpy as np
import pytest

from services.orbit import advice, geometry
from services.orbit.geometry import AspectKind, Natal

# Degrees per day, typical values; only their order matters to applying and separating.
SPEEDS = {"sun": 1.0, "moon": 13.0, "mercury": 1.2, "venus": 1.1, "mars": 0.5, "jupiter": 0.08, "saturn": 0.03,
          "uranus": 0.01, "neptune": 0.006, "pluto": 0.004, "ascendant": 0.0, "midheaven": 0.0}


def natal(name: str, speeds: dict[str, float] | None = None, role: str = "other", **longitudes: float) -> Natal:
    """Build a chart with only the given points, at the given longitudes and SPEEDS (or speeds)."""
    points = tuple(point for point in geometry.POINTS if point in longitudes)
    speed_of = {**SPEEDS, **(speeds or {})}
    return Natal(
        name=name,
        role=role,
        time_known=True,
        points=points,
        longitude=np.array([longitudes[point] for point in points], dtype=float),
        speed=np.array([speed_of[point] for point in points], dtype=float),
        uncertainty=np.zeros(len(points)),
    )


def only_aspect(pair: geometry.Pair) -> geometry.Aspect:
    assert len(pair.aspects) == 1, pair.aspects
    return pair.aspects[0]


# --- the 0/360 wrap -------------------------------------------------------------


def test_points_at_359_and_1_degrees_are_a_conjunction_2_degrees_wide():
    pair = geometry.pair_geometry(natal("A", mars=359.0), natal("B", sun=1.0))

    aspect = only_aspect(pair)
    assert (aspect.kind.name, aspect.separation, aspect.orb) == ("conjunction", 2.0, 2.0)
    # Mars (a malefic) on the Sun: 0.7 * 1.0 * (1 - 2/10) * 1.0 = 0.56; friction 0.56 / 1.56.
    assert aspect.max_orb == 10.0
    assert aspect.effect == "tension"
    assert aspect.contribution == 0.56
    assert pair.friction == 0.359


def test_an_opposition_across_the_wrap_measures_the_short_way_round():
    pair = geometry.pair_geometry(natal("A", sun=350.0), natal("B", moon=172.0))

    aspect = only_aspect(pair)
    # 350 -> 172 is 182 degrees forward, so 178 the short way: an opposition 2 degrees wide.
    assert (aspect.kind.name, aspect.separation, aspect.orb) == ("opposition", 178.0, 2.0)
    # 1.0 * 1.0 * (1 - 2/10) * 0.9
    assert aspect.contribution == 0.72
    assert pair.tension == 0.72


def test_points_just_outside_the_orb_make_no_aspect():
    # A square allows 6 degrees, and 8 with a luminary: 99.5 - 0 is 9.5 from 90.
    assert geometry.pair_geometry(natal("A", sun=0.0), natal("B", saturn=99.5)).aspects == ()
    # Without a luminary, 6 degrees: 96.5 is outside, 95.5 inside.
    assert geometry.pair_geometry(natal("A", mars=0.0), natal("B", saturn=96.5)).aspects == ()
    assert only_aspect(geometry.pair_geometry(natal("A", mars=0.0), natal("B", saturn=95.5))).kind.name == "square"


# --- choosing the aspect --------------------------------------------------------

OVERLAPPING = (
    AspectKind("wide_40", 40.0, 15.0, geometry.TENSION, 1.0),
    AspectKind("wide_60", 60.0, 15.0, geometry.EASE, 1.0),
)


def test_overlapping_orbs_take_the_closer_aspect():
    # 52 degrees is 12 from 40 and 8 from 60; the Sun's bonus makes both orbs 17.
    pair = geometry.pair_geometry(natal("A", sun=0.0), natal("B", venus=52.0), OVERLAPPING)

    aspect = only_aspect(pair)
    assert (aspect.kind.name, aspect.orb, aspect.max_orb) == ("wide_60", 8.0, 17.0)
    assert (pair.tension, pair.ease) == (0.0, round(0.6 * (1 - 8 / 17), 4))


def test_overlapping_orbs_at_equal_distance_take_the_aspect_listed_first():
    pair = geometry.pair_geometry(natal("A", sun=0.0), natal("B", venus=50.0), OVERLAPPING)

    assert only_aspect(pair).kind.name == "wide_40"


def test_an_exact_aspect_counts_in_full_and_is_separating():
    pair = geometry.pair_geometry(natal("A", saturn=10.0), natal("B", sun=100.0))

    aspect = only_aspect(pair)
    assert (aspect.kind.name, aspect.orb) == ("square", 0.0)
    # 0.7 * 1.0 * (1 - 0) * 1.0
    assert aspect.contribution == 0.7
    assert aspect.motion == "separating"
    assert pair.friction == round(0.7 / 1.7, 4)


@pytest.mark.parametrize(
    ("a", "b", "effect", "strength"),
    [
        ("mars", "sun", "tension", 1.0),  # a malefic on a personal point
        ("saturn", "ascendant", "tension", 1.0),
        ("mars", "mars", "tension", 1.0),  # Mars is both
        ("saturn", "saturn", "neutral", 0.0),  # shared by everyone born within a year or so
        ("pluto", "neptune", "neutral", 0.0),
        ("venus", "moon", "ease", 0.5),
        ("jupiter", "uranus", "ease", 0.5),
        ("venus", "saturn", "tension", 1.0),  # the malefic wins over the benefic
        ("sun", "moon", "neutral", 0.0),
    ],
)
def test_a_conjunction_takes_its_effect_from_the_two_points(a, b, effect, strength):
    assert geometry.conjunction_effect(a, b) == (effect, strength)
    assert geometry.conjunction_effect(b, a) == (effect, strength)


# --- applying and separating ----------------------------------------------------


def test_a_faster_point_closing_on_the_exact_angle_is_applying():
    # The Sun at 0 moves 1 degree a day, Mars at 85 moves 1.5: the gap grows toward 90.
    applying = geometry.pair_geometry(natal("A", sun=0.0), natal("B", {"mars": 1.5}, mars=85.0))
    # With Mars at 0.5 a day, the Sun catches up and the gap shrinks away from 90.
    separating = geometry.pair_geometry(natal("A", sun=0.0), natal("B", {"mars": 0.5}, mars=85.0))

    assert only_aspect(applying).motion == "applying"
    assert only_aspect(separating).motion == "separating"


def test_the_moon_closing_on_the_sun_across_the_wrap_is_applying():
    pair = geometry.pair_geometry(natal("A", moon=358.0), natal("B", sun=3.0))

    assert (only_aspect(pair).orb, only_aspect(pair).motion) == (5.0, "applying")


def test_a_retrograde_point_moving_away_is_separating():
    # Saturn at 95 retrograde (-0.05 a day) against Mars at 0 (0.5 a day): the
    # gap of 95 shrinks toward 90, which is applying; Mars moving back would separate.
    closing = geometry.pair_geometry(natal("A", mars=0.0), natal("B", {"saturn": -0.05}, saturn=95.0))
    opening = geometry.pair_geometry(natal("A", {"mars": -0.5}, mars=0.0), natal("B", saturn=95.0))

    assert only_aspect(closing).motion == "applying"
    assert only_aspect(opening).motion == "separating"


def test_an_orb_within_the_uncertainty_has_no_known_motion():
    # Mars at 0 and the Sun at 90.3: an orb of 0.3 inside an uncertainty of 0.5.
    untimed = dataclasses.replace(natal("B", sun=90.3), time_known=False, uncertainty=np.array([0.5]))
    near = geometry.pair_geometry(natal("A", mars=0.0), untimed)
    far = geometry.pair_geometry(natal("A", mars=0.0), dataclasses.replace(untimed, longitude=np.array([95.0])))

    assert (only_aspect(near).orb_uncertainty, only_aspect(near).motion) == (0.5, "uncertain")
    assert only_aspect(far).motion == "separating"


def test_two_angles_are_fixed():
    pair = geometry.pair_geometry(natal("A", ascendant=10.0), natal("B", midheaven=100.0))

    assert only_aspect(pair).motion == "fixed"


# --- pairs: symmetry, order, and each aspect once ---------------------------------


def random_natal(rng: random.Random, name: str) -> Natal:
    return natal(name, **{point: rng.uniform(0.0, 360.0) for point in geometry.POINTS})


def renamed(person: Natal, name: str) -> Natal:
    return dataclasses.replace(person, name=name)


def test_a_pair_does_not_depend_on_which_name_sorts_first():
    for seed in range(200):
        rng = random.Random(seed)
        first, second = random_natal(rng, "A"), random_natal(rng, "B")
        straight = geometry.pair_geometry(first, second)
        swapped = geometry.pair_geometry(renamed(first, "B"), renamed(second, "A"))

        assert (straight.friction, straight.tension, straight.ease) == (swapped.friction, swapped.tension, swapped.ease)
        mirrored = {(aspect.point_b, aspect.point_a, aspect.kind.name, aspect.orb, aspect.contribution) for aspect in swapped.aspects}
        assert {(aspect.point_a, aspect.point_b, aspect.kind.name, aspect.orb, aspect.contribution) for aspect in straight.aspects} == mirrored


def test_a_sun_square_at_the_edge_of_its_orb_is_found_from_either_side():
    # 92.38645452224964 - 0 measured either way is the same float, so both namings see the same orb.
    straight = geometry.pair_geometry(natal("A", sun=0.0), natal("B", sun=92.38645452224964))
    swapped = geometry.pair_geometry(natal("B", sun=0.0), natal("A", sun=92.38645452224964))

    assert straight.friction == swapped.friction


def test_two_points_within_two_overlapping_orbs_give_one_aspect():
    # 52 degrees is inside both wide orbs of OVERLAPPING; only the closer is listed.
    pair = geometry.pair_geometry(natal("A", sun=0.0, moon=10.0), natal("B", venus=52.0, mars=61.0), OVERLAPPING)

    couples = [(aspect.point_a, aspect.point_b) for aspect in pair.aspects]
    assert len(couples) == len(set(couples))
    assert [aspect.kind.name for aspect in pair.aspects if (aspect.point_a, aspect.point_b) == ("sun", "venus")] == ["wide_60"]


def test_aspects_are_listed_strongest_first():
    rng = random.Random(13)
    pair = geometry.pair_geometry(random_natal(rng, "A"), random_natal(rng, "B"))

    contributions = [aspect.contribution for aspect in pair.aspects]
    assert contributions == sorted(contributions, reverse=True)


def test_the_map_does_not_change_with_the_order_of_the_people():
    rng = random.Random(17)
    people = [random_natal(rng, name) for name in ("Maya", "Ben", "ana", "Ana", "Émile", "Zed")]
    expected = geometry.map_people(people)

    for seed in range(10):
        shuffled = people[:]
        random.Random(seed).shuffle(shuffled)
        assert geometry.map_people(shuffled) == expected


def test_a_pair_has_the_same_value_in_any_group():
    rng = random.Random(19)
    a, b = random_natal(rng, "B"), random_natal(rng, "D")
    # Names that sort before, between and after the pair's two.
    others = [random_natal(rng, name) for name in ("A", "C", "E", "Ba", "Ca", "Z")]
    alone = geometry.pair_geometry(a, b)

    for size in range(0, 7):
        group = geometry.map_people([a, *others[:size], b])
        assert next(pair for pair in group.pairs if pair.key == "B <> D") == alone


def test_pairs_come_in_code_point_order_of_their_keys():
    rng = random.Random(23)
    orbit_map = geometry.map_people([random_natal(rng, name) for name in ("b", "B", "a", "Ä", "A")])

    keys = [pair.key for pair in orbit_map.pairs]
    assert keys == sorted(keys)
    assert keys[0] == "A <> B"


# --- pressure and triangulation ---------------------------------------------------


def triangle(apex: str = "Ana", first: str = "Ben", second: str = "Cleo") -> list[Natal]:
    """The apex's Mars and Saturn square the Sun and Moon of both others, who share their Sun and Moon."""
    return [
        natal(apex, mars=0.0, saturn=180.0),
        natal(first, sun=90.0, moon=90.0),
        natal(second, sun=90.0, moon=90.0),
    ]


def test_a_purpose_built_triad_is_triangulated_at_its_apex():
    orbit_map = geometry.map_people(triangle())

    # Ana to either: four exact squares of weight 0.7 * 1.0, tension 2.8, friction 2.8 / 3.8.
    friction = {pair.key: pair.friction for pair in orbit_map.pairs}
    assert friction == {"Ana <> Ben": 0.7368, "Ana <> Cleo": 0.7368, "Ben <> Cleo": 0.0}
    assert orbit_map.triangulations == (geometry.Triangulation(
        person="Ana",
        people=("Ana", "Ben", "Cleo"),
        edges=("Ana <> Ben", "Ana <> Cleo"),
        edge_friction=(0.7368, 0.7368),
        third_edge="Ben <> Cleo",
        third_edge_friction=0.0,
        all_edges_high=False,
    ),)


def test_the_apex_is_found_whatever_the_names_and_order():
    # The apex's name sorts last here, so it is not the first of the triad.
    people = triangle(apex="Zara", first="Ben", second="Cleo")[::-1]

    (found,) = geometry.map_people(people).triangulations
    assert found.person == "Zara"
    assert found.edges == ("Ben <> Zara", "Cleo <> Zara")
    assert found.third_edge == "Ben <> Cleo"


def test_pressure_puts_the_apex_first():
    pressure = geometry.map_people(triangle()).pressure

    assert [(point.name, point.average_friction, point.level, point.tensest_with) for point in pressure] == [
        ("Ana", 0.7368, "high", "Ben"),
        ("Ben", 0.3684, "low", "Ana"),
        ("Cleo", 0.3684, "low", "Ana"),
    ]


def test_a_triad_of_three_high_edges_names_the_person_whose_edges_sum_highest():
    # Every Mars squares every other Mars (tension 0.49 each): give Ana two Mars-like points.
    ana = natal("Ana", mars=0.0, saturn=180.0)
    ben = natal("Ben", mars=90.0, saturn=270.0)
    cleo = natal("Cleo", sun=0.0, moon=180.0)

    orbit_map = geometry.map_people([ana, ben, cleo])
    friction = {pair.key: pair.friction for pair in orbit_map.pairs}
    # Ana-Ben: four squares of 0.7 * 0.7 = 1.96 -> 0.6622. Ana-Cleo: conjunctions of a
    # malefic on a luminary (0.7 each) and oppositions (0.63 each) = 2.66 -> 0.7268.
    # Ben-Cleo: four squares of 0.7 = 2.8 -> 0.7368.
    assert friction == {"Ana <> Ben": 0.6622, "Ana <> Cleo": 0.7268, "Ben <> Cleo": 0.7368}
    (found,) = orbit_map.triangulations
    assert found.all_edges_high
    # Cleo's edges sum to 1.4636, Ben's 1.399, Ana's 1.389.
    assert found.person == "Cleo"
    assert found.third_edge == "Ana <> Ben"


def test_no_triangulation_without_two_high_edges():
    people = [natal("A", sun=0.0), natal("B", sun=120.0), natal("C", mars=90.0)]

    assert geometry.map_people(people).triangulations == ()


def test_twelve_people_give_66_pairs_and_every_person_once():
    rng = random.Random(29)
    people = [random_natal(rng, f"Person {index:02d}") for index in range(12)]
    orbit_map = geometry.map_people(people)

    assert len(orbit_map.pairs) == 66
    assert {pair.key for pair in orbit_map.pairs} == {geometry.pair_key(a.name, b.name) for a, b in itertools.combinations(people, 2)}
    assert sorted(point.name for point in orbit_map.pressure) == sorted(person.name for person in people)
    for pair in orbit_map.pairs:
        assert 0.0 <= pair.friction < 1.0
    averages = [point.average_friction for point in orbit_map.pressure]
    assert averages == sorted(averages, reverse=True)
    for item in orbit_map.triangulations:
        assert min(item.edge_friction) >= geometry.HIGH_FRICTION
        assert item.person in item.people


def test_missing_points_take_part_in_no_aspect():
    # Without a time, a chart has no angles. B's absent ascendant must not
    # meet A's Sun at 0 as if it sat at 0 degrees.
    with_angles = natal("A", sun=0.0, ascendant=45.0)
    untimed = natal("B", sun=180.0)

    pair = geometry.pair_geometry(with_angles, untimed)
    assert [(aspect.point_a, aspect.point_b, aspect.kind.name) for aspect in pair.aspects] == [("sun", "sun", "opposition")]


# --- words ------------------------------------------------------------------------


def pressure(average: float, tensest: float = 0.7) -> geometry.Pressure:
    return geometry.Pressure("Ana", "parent", average, geometry.level_of(average), "Ben", tensest)


@pytest.mark.parametrize(
    ("average", "level", "words"),
    [
        (0.4799, "low", "average 0.4799 friction, below 0.48."),
        (0.48, "moderate", "average 0.48 friction, from 0.48 up to the high mark of 0.58"),
        (0.5799, "moderate", "average 0.5799 friction, from 0.48"),
        (0.58, "high", "average 0.58 friction, at or above the high mark of 0.58"),
    ],
)
def test_levels_and_sentences_agree_at_the_thresholds(average, level, words):
    point = pressure(average)

    assert point.level == level
    assert words in advice.interpretation(point)


def test_a_triad_of_high_edges_is_not_told_to_settle_things_directly():
    orbit_map = geometry.map_people([
        natal("Ana", mars=0.0, saturn=180.0),
        natal("Ben", mars=90.0, saturn=270.0),
        natal("Cleo", sun=0.0, moon=180.0),
    ])

    notes = advice.recommendations(orbit_map, {"Ana": "parent", "Ben": "parent", "Cleo": "child"}, [])

    assert notes[0].startswith("All three pairs among Ana, Ben and Cleo are high-friction; Cleo (child) carries the most")
    assert not any("settle matters" in note for note in notes)
    # Every pair is high, so none is praised as steadying the others.
    assert not any("steady the others" in note for note in notes)
    assert notes[-1].startswith("Even the least tense pair, Ana <> Ben (0.6622)")


def test_the_tensest_pair_names_its_strongest_hard_aspect_and_the_easiest_pair_is_praised():
    orbit_map = geometry.map_people(triangle())

    notes = advice.recommendations(orbit_map, {"Ana": "parent", "Ben": "child", "Cleo": "child"}, ["Ben"])

    assert notes[1] == (
        "Ana <> Ben is the tensest pair (0.7368); its strongest hard aspect is Ana's Mars square Ben's Sun (orb 0.0°). "
        "Give this pair extra time and calm conditions when decisions are shared."
    )
    assert notes[2] == "Ben <> Cleo has the easiest geometry (0); this pair can steady the others."
    assert notes[3].startswith("Birth times for Ben would add")


def test_more_than_three_triangulations_are_counted_not_spelled_out():
    # Five people whose Mars and Saturn all square each other's: every triad is all-high.
    people = [natal(name, mars=90.0 * (index % 2), saturn=90.0 * (index % 2) + 180.0, sun=90.0 * (index % 2) + 90.0)
              for index, name in enumerate("ABCDE")]
    orbit_map = geometry.map_people(people)

    notes = advice.recommendations(orbit_map, {name: "friend" for name in "ABCDE"}, [])

    assert len(orbit_map.triangulations) > 3
    assert notes[3] == f"{len(orbit_map.triangulations) - 3} more triangulations are listed in the map."
