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
    """A service that a person in crisis can contact, as the API returns it."""

    name: str
    description: str
    phone: str
    sms: str
    url: str
    hours: str
    region: str


def _emergency(region: str, number: str) -> CrisisResource:
    return CrisisResource(
        name="Emergency services",
        description=f"If you are in immediate danger, call {number}.",
        phone=number,
        sms="",
        url="",
        hours="24/7",
        region=region,
    )


def _line_988(region: str, name: str, description: str, url: str) -> CrisisResource:
    return CrisisResource(name=name, description=description, phone="988", sms="988", url=url, hours="24/7", region=region)


def _samaritans(region: str) -> CrisisResource:
    return CrisisResource(
        name="Samaritans",
        description="Someone to talk to, free and confidential, any time. Call 116 123.",
        phone="116 123",
        sms="",
        url="https://www.samaritans.org",
        hours="24/7",
        region=region,
    )


# ISO 3166-1 alpha-2 region -> contacts, most specific first.
REGIONAL: dict[str, tuple[CrisisResource, ...]] = {
    "US": (
        _line_988(
            "US",
            "988 Suicide & Crisis Lifeline",
            "Free, confidential support from a trained counselor, any time. Call or text 988, or chat online.",
            "https://988lifeline.org",
        ),
        _emergency("US", "911"),
    ),
    "CA": (
        _line_988(
            "CA",
            "9-8-8 Suicide Crisis Helpline",
            "Free, confidential support, any time, in English or French. Call or text 988.",
            "https://988.ca",
        ),
        _emergency("CA", "911"),
    ),
    "GB": (_samaritans("GB"), _emergency("GB", "999")),
    "IE": (_samaritans("IE"), _emergency("IE", "112")),
}

INTERNATIONAL: tuple[CrisisResource, ...] = (
    CrisisResource(
        name="Find A Helpline",
        description="A directory of free, confidential helplines in your country. Choose yours to see who to call or text.",
        phone="",
        sms="",
        url="https://findahelpline.com",
        hours="24/7",
        region="international",
    ),
    CrisisResource(
        name="Emergency services",
        description="If you are in immediate danger, call your local emergency number.",
        phone="",
        sms="",
        url="",
        hours="24/7",
        region="international",
    ),
)


def resources_for(region: str) -> tuple[CrisisResource, ...]:
    """Return the contacts for an ISO 3166-1 region code (any case), or INTERNATIONAL when none are listed."""
    return REGIONAL.get(region.upper(), INTERNATIONAL)
