"""Crisis contacts by region, returned with an audit in the critical and caution bands.

The texts are short and addressed to the person, and none repeats the
person's words or names a method. A region missing from REGIONAL gets the
international directory. The numbers and hours are those that the services
publish at 988lifeline.org, 988.ca, samaritans.org and findahelpline.com.
NOTE: nothing checks them automatically; review the table when a service
changes its number.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class CrisisResource:
    """A service that a person in crisis can contact, as the API returns it. An empty field means the service has none."""

    name: str
    description: str
    region: str
    phone: str = ""
    sms: str = ""
    url: str = ""
    hours: str = "24/7"


def _emergency(region: str, number: str) -> CrisisResource:
    return CrisisResource("Emergency services", f"If you are in immediate danger, call {number}.", region, phone=number)


def _samaritans(region: str) -> CrisisResource:
    return CrisisResource(
        "Samaritans",
        "Someone to talk to, free and confidential, any time. Call 116 123.",
        region,
        phone="116 123",
        url="https://www.samaritans.org",
    )


# ISO 3166-1 alpha-2 region -> contacts, most specific first.
REGIONAL: dict[str, tuple[CrisisResource, ...]] = {
    "US": (
        CrisisResource(
            "988 Suicide & Crisis Lifeline",
            "Free, confidential support from a trained counselor, any time. Call or text 988, or chat online.",
            "US",
            phone="988",
            sms="988",
            url="https://988lifeline.org",
        ),
        _emergency("US", "911"),
    ),
    "CA": (
        CrisisResource(
            "9-8-8 Suicide Crisis Helpline",
            "Free, confidential support, any time, in English or French. Call or text 988.",
            "CA",
            phone="988",
            sms="988",
            url="https://988.ca",
        ),
        _emergency("CA", "911"),
    ),
    "GB": (_samaritans("GB"), _emergency("GB", "999")),
    "IE": (_samaritans("IE"), _emergency("IE", "112")),
}

INTERNATIONAL: tuple[CrisisResource, ...] = (
    CrisisResource(
        "Find A Helpline",
        "A directory of free, confidential helplines in your country. Choose yours to see who to call or text.",
        "international",
        url="https://findahelpline.com",
    ),
    CrisisResource(
        "Emergency services",
        "If you are in immediate danger, call your local emergency number.",
        "international",
    ),
)


def resources_for(region: str) -> tuple[CrisisResource, ...]:
    """Return the contacts for an ISO 3166-1 region code (any case), or INTERNATIONAL when none are listed."""
    return REGIONAL.get(region.upper(), INTERNATIONAL)
