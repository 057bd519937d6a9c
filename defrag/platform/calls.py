"""Values that every service reads from a call's metadata or writes into its response."""

import datetime as dt

import grpc

from defrag.platform.server import MAX_ID_LENGTH


def metadata_value(context: grpc.aio.ServicerContext, name: str) -> str:
    """Return the first value of a metadata key, cut to MAX_ID_LENGTH, or "" when the call has none.

    The cut bounds what a client-supplied id can add to a log line or a record.
    """
    for key, value in context.invocation_metadata() or ():
        if key == name:
            return value[:MAX_ID_LENGTH]
    return ""


def request_id(context: grpc.aio.ServicerContext) -> str:
    """Return the x-request-id metadata value, or "" when the caller sent none."""
    return metadata_value(context, "x-request-id")


def format_timestamp(utc: dt.datetime, timespec: str = "seconds") -> str:
    """Format an aware instant as RFC 3339 in UTC with a "Z" suffix, to the second or finer."""
    text = utc.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec=timespec)
    return text + "Z"
