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


def interpretation(point: geometry.Pressure) -> str:
    """Return one sentence on the pressure that the geometry puts on one person."""
    if point.level == "high":
        return (f"High pressure: this person's pairs average {point.average_friction:.2f} friction, at or above the "
                f"high mark of {geometry.HIGH_FRICTION:.2f}; the tensest is with {point.tensest_with} "
                f"({point.tensest_friction:.2f}).")
    if point.level == "moderate":
        return (f"Moderate pressure: this person's pairs average {point.average_friction:.2f} friction; the tensest "
                f"is with {point.tensest_with} ({point.tensest_friction:.2f}).")
    return (f"Low pressure: this person's pairs average {point.average_friction:.2f} friction, below "
            f"{geometry.MODERATE_FRICTION:.2f}.")


def recommendations(orbit_map: geometry.OrbitMap, roles: dict[str, str], without_time: list[str]) -> list[str]:
    """Return short suggestions: triangulations first, then the tensest and the easiest pair, then missing data."""
    notes = []
    strongest = sorted(orbit_map.triangulations, key=lambda item: (-sum(item.edge_friction), item.people))
    for item in strongest[:MAX_TRIANGULATION_NOTES]:
        first, second = (name for name in item.people if name != item.person)
        notes.append(
            f"{item.person} ({roles[item.person]}) sits where two high-friction pairs meet "
            f"({item.edges[0]} {item.edge_friction[0]:.2f}, {item.edges[1]} {item.edge_friction[1]:.2f}). "
            f"Let {first} and {second} settle matters between themselves rather than through {item.person}."
        )
    if len(strongest) > MAX_TRIANGULATION_NOTES:
        notes.append(f"{len(strongest) - MAX_TRIANGULATION_NOTES} more triangulations are listed in the map.")

    pairs = sorted(orbit_map.pairs, key=lambda pair: (-pair.friction, pair.key))
    tensest, easiest = pairs[0], pairs[-1]
    if tensest.friction >= geometry.HIGH_FRICTION:
        hard = [aspect for aspect in tensest.aspects if aspect.effect == geometry.TENSION]
        source = f", mostly from {describe_aspect(tensest, hard[0])}" if hard else ""
        notes.append(f"{tensest.key} is the tensest pair ({tensest.friction:.2f}){source}. "
                     "Give this pair extra time and calm conditions when decisions are shared.")
    else:
        notes.append(f"No pair reaches the high-friction mark of {geometry.HIGH_FRICTION:.2f}; "
                     f"the tensest is {tensest.key} ({tensest.friction:.2f}).")
    if len(pairs) > 1 and easiest.friction < tensest.friction:
        notes.append(f"{easiest.key} has the easiest geometry ({easiest.friction:.2f}); "
                     "this pair can steady the others.")
    if without_time:
        notes.append(f"Birth times for {', '.join(without_time)} would add the ascendant and midheaven, "
                     "and any body that changed sign on the day of birth.")
    return notes
