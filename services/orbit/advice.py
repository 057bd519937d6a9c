"""Words for an orbit map: each person's interpretation and the group's recommendations.

Pure and deterministic: the same map gives the same sentences. The
sentences describe astrological geometry; none of them assesses a person.
"""

from services.orbit import geometry

DISCLAIMER = (
    "These numbers are astrological geometry computed from birth data. They are not a psychological "
    "assessment and must not be used to diagnose anyone or to make decisions about a person."
)

# Recommendations about triangulations, at most this many, the strongest first.
MAX_TRIANGULATION_NOTES = 3

ASPECT_WORDS = {"conjunction": "conjunct", "sextile": "sextile", "square": "square", "trine": "trine", "opposition": "opposite"}


def point_name(point: str) -> str:
    return point.replace("_", " ").capitalize()


def describe_aspect(pair: geometry.Pair, aspect: geometry.Aspect) -> str:
    """Return e.g. "Ana's Sun square Ben's Saturn (orb 1.2°)"."""
    verb = ASPECT_WORDS[aspect.kind.name]
    return (f"{pair.person_a}'s {point_name(aspect.point_a)} {verb} {pair.person_b}'s {point_name(aspect.point_b)} "
            f"(orb {aspect.orb:.1f}°)")


def number(value: float) -> str:
    """Format a friction as the response shows it (4 decimals, trailing zeros dropped), so a sentence never rounds across a threshold."""
    return f"{value:.4f}".rstrip("0").rstrip(".")


def interpretation(point: geometry.Pressure) -> str:
    """Return one sentence on the pressure that the geometry puts on one person."""
    average, tensest = number(point.average_friction), number(point.tensest_friction)
    if point.level == "high":
        return (f"High pressure: this person's pairs average {average} friction, at or above the high mark of "
                f"{number(geometry.HIGH_FRICTION)}; the tensest is with {point.tensest_with} ({tensest}).")
    if point.level == "moderate":
        return (f"Moderate pressure: this person's pairs average {average} friction, from "
                f"{number(geometry.MODERATE_FRICTION)} up to the high mark of {number(geometry.HIGH_FRICTION)}; "
                f"the tensest is with {point.tensest_with} ({tensest}).")
    return f"Low pressure: this person's pairs average {average} friction, below {number(geometry.MODERATE_FRICTION)}."


def recommendations(orbit_map: geometry.OrbitMap, roles: dict[str, str], without_time: list[str]) -> list[str]:
    """Return short suggestions: triangulations first, then the tensest and the least tense pair, then missing data."""
    notes = []
    strongest = sorted(orbit_map.triangulations, key=lambda item: (-sum(item.edge_friction), item.people))
    for item in strongest[:MAX_TRIANGULATION_NOTES]:
        first, second = (name for name in item.people if name != item.person)
        edges = (f"{item.edges[0]} {number(item.edge_friction[0])}, {item.edges[1]} {number(item.edge_friction[1])}")
        if item.all_edges_high:
            notes.append(
                f"All three pairs among {item.people[0]}, {item.people[1]} and {item.people[2]} are high-friction; "
                f"{item.person} ({roles[item.person]}) carries the most ({edges}). Ease the whole triad before "
                "working on any one pair."
            )
        else:
            notes.append(
                f"{item.person} ({roles[item.person]}) sits where two high-friction pairs meet ({edges}). "
                f"Let {first} and {second} settle matters between themselves rather than through {item.person}."
            )
    if len(strongest) > MAX_TRIANGULATION_NOTES:
        notes.append(f"{len(strongest) - MAX_TRIANGULATION_NOTES} more triangulations are listed in the map.")

    pairs = sorted(orbit_map.pairs, key=lambda pair: (-pair.friction, pair.key))
    tensest, least = pairs[0], pairs[-1]
    if tensest.friction >= geometry.HIGH_FRICTION:
        hard = [aspect for aspect in tensest.aspects if aspect.effect == geometry.TENSION]
        source = f"; its strongest hard aspect is {describe_aspect(tensest, hard[0])}" if hard else ""
        notes.append(f"{tensest.key} is the tensest pair ({number(tensest.friction)}){source}. "
                     "Give this pair extra time and calm conditions when decisions are shared.")
    else:
        notes.append(f"No pair reaches the high-friction mark of {number(geometry.HIGH_FRICTION)}; "
                     f"the tensest is {tensest.key} ({number(tensest.friction)}).")
    if len(pairs) > 1 and least.friction < geometry.MODERATE_FRICTION:
        notes.append(f"{least.key} has the easiest geometry ({number(least.friction)}); this pair can steady the others.")
    elif len(pairs) > 1 and least.friction < tensest.friction:
        notes.append(f"Even the least tense pair, {least.key} ({number(least.friction)}), is at or above the moderate mark "
                     f"of {number(geometry.MODERATE_FRICTION)}.")
    if without_time:
        notes.append(f"Birth times for {', '.join(without_time)} would add the ascendant and midheaven, "
                     "and any body that changed sign on the day of birth.")
    return notes
