"""Checks for defrag.common.v1.BirthData, shared by the services whose requests carry it.

Duck-typed on the message, so this module imports no gRPC. Errors use the
BirthData field names ("date", "lat", ...); each caller adds its own prefix.
"""

from defrag import localtime, sky
from defrag.localtime import InvalidField, LocalReading

# BirthData's field numbers, so errors come in the order of the message's fields.
_FIELD_ORDER = ("date", "time", "lat", "lon", "elevation_meters", "tz", "utc_offset", "fold", "calendar")


def read_birth_data(birth, *, place_required: bool) -> tuple[LocalReading | None, list[InvalidField]]:
    """Parse the date and time fields and check the place, returning the reading and every error.

    An empty time reads local noon with time_known=False. The reading is None
    when a time field is invalid. With place_required, lat and lon must be
    set; without it, the place is optional, but once given needs both.
    """
    reading = None
    errors: list[InvalidField] = []
    try:
        reading = localtime.read_message_time(birth, years=(sky.FIRST_YEAR, sky.LAST_YEAR))
    except localtime.InvalidInput as error:
        errors.extend(error.errors)

    has_place = birth.HasField("lat") or birth.HasField("lon") or birth.HasField("elevation_meters")
    if place_required or has_place:
        errors += sky.validate_observer(
            birth.lat if birth.HasField("lat") else None,
            birth.lon if birth.HasField("lon") else None,
            birth.elevation_meters if birth.HasField("elevation_meters") else None,
        )
    errors.sort(key=lambda error: _FIELD_ORDER.index(error.field) if error.field in _FIELD_ORDER else len(_FIELD_ORDER))
    return reading, errors
