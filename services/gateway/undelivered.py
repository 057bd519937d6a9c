"""Refunds of admitted calls that Envoy could not deliver to any service replica.

The gateway charges a call when it admits it. When Envoy then finds no
replica to take the call, it returns 503 itself and the call never runs:

  admission  the CheckResponse carries the charge (charge_metadata) as
             ext_authz dynamic metadata, which Envoy keeps with the request
  503        the response flags show that no upstream responded: UH (no
             healthy replica), UF (connection failure) or UO (connection
             pool or circuit breaker full)
  log        Envoy's HTTP gRPC access logger sends only such entries, with
             that metadata, to this AccessLogService on any gateway replica
  refund     AccessLogReceiver reads the charge from the entry and refunds
             it with refund.lua (ChargeRefunder), so every replica can do it

A call whose request bytes reached a replica on any attempt may have run
(a telemetry or orbit call reset mid-way and then retried on a replica that
refused the connection shows UF as well), so its charge is kept. Envoy 1.40
adds upstream_wire_bytes_sent over all attempts of a request.

refund.lua refunds a charge that carries a check id only while the check
record that its admission wrote still exists (10 s, CHECK_RECORD_TTL_MS)
and stores the same charge id, cost, window, second and idempotency
record, and deletes it. Envoy chooses the check id and the gateway the
charge id at random, so an entry that did not come from Envoy refunds
nothing, and no entry refunds more than its charge took. Entries without
a check id are refused for that reason.
"""

import logging
import re

from envoy.service.accesslog.v3 import als_pb2, als_pb2_grpc
from google.protobuf import struct_pb2

from defrag.platform.logs import RepeatLimiter
from defrag.platform.server import MAX_ID_LENGTH
from services.gateway.refunds import UNDELIVERED_CALL, ChargeRefunder
from services.gateway.store import Charge, Store

log = logging.getLogger("gateway.undelivered")

# Envoy's namespace for the dynamic metadata of ext_authz's CheckResponse.
EXT_AUTHZ_NAMESPACE = "envoy.filters.http.ext_authz"
CHARGE_KEY = "charge"
# Each field of Charge as a string, so that no number passes through a double.
FIELD_PATTERNS = {
    "account_id": re.compile(r"[A-Za-z0-9_]{1,64}"),
    "charge_id": re.compile(r"[0-9a-f]{32}"),
    "cost": re.compile(r"[1-9][0-9]{0,9}"),
    "window_start": re.compile(r"[0-9]{1,12}"),
    "window_end": re.compile(r"[0-9]{1,12}"),
    "second": re.compile(r"[0-9]{1,12}"),
    # HMAC-SHA-256 of the Idempotency-Key, or "-" without one.
    "idempotency_digest": re.compile(r"-|[0-9a-f]{64}"),
    # The method path and the HMAC-SHA-256 of the request message, "#0", or "" when no record was written.
    "idempotency_record": re.compile(r"(/[A-Za-z0-9_.]{1,200}/[A-Za-z0-9_]{1,100} [0-9a-f]{64}#0)?"),
    "check_id": re.compile(r"[0-9a-f]{32}"),
}
INTEGER_FIELDS = ("cost", "window_start", "window_end", "second")
# At most one warning per interval about entries whose charge cannot be read.
INVALID_LOG_INTERVAL_SECONDS = 60.0


def charge_metadata(charge: Charge) -> struct_pb2.Struct | None:
    """Return the CheckResponse's dynamic metadata for a charge, or None when it cannot be refunded this way.

    It contains ids, counts and HMACs that Redis stores as well, and never
    the API key, a request field or a header.
    """
    if not charge.check_id:
        return None
    fields = {name: str(getattr(charge, name)) for name in FIELD_PATTERNS}
    metadata = struct_pb2.Struct()
    metadata.fields[CHARGE_KEY].struct_value.update(fields)
    return metadata


def charge_from_metadata(fields: struct_pb2.Struct) -> Charge:
    """Read a charge that charge_metadata wrote; raises ValueError naming the first invalid field."""
    values = {}
    for name, pattern in FIELD_PATTERNS.items():
        value = fields.fields.get(name)
        if value is None or value.WhichOneof("kind") != "string_value":
            raise ValueError(f"{name} is missing or not a string")
        if not pattern.fullmatch(value.string_value):
            raise ValueError(f"{name} does not match {pattern.pattern}")
        values[name] = int(value.string_value) if name in INTEGER_FIELDS else value.string_value
    return Charge(**values)


def undelivered(entry) -> bool:
    """Return whether an access log entry's response flags show that no upstream responded: UH, UF or UO."""
    flags = entry.common_properties.response_flags
    return flags.no_healthy_upstream or flags.upstream_connection_failure or flags.upstream_overflow


def request_id_of(entry) -> str:
    """Return the entry's x-request-id for log lines, or "" when it is not printable ASCII."""
    request_id = entry.request.request_id[:MAX_ID_LENGTH]
    return request_id if request_id.isascii() and request_id.isprintable() else ""


class AccessLogReceiver(als_pb2_grpc.AccessLogServiceServicer):
    """Envoy's access log service: refunds the charge of each call that Envoy could not deliver.

    Envoy's filter sends only entries of undelivered calls that carry a
    charge; other entries are skipped without a count.
    """

    def __init__(self, store: Store):
        self.refunder = ChargeRefunder(store, UNDELIVERED_CALL)
        self.counter = UNDELIVERED_CALL.counter
        self.invalid_logs = RepeatLimiter(INVALID_LOG_INTERVAL_SECONDS)

    async def StreamAccessLogs(self, request_iterator, context):
        async for message in request_iterator:
            for entry in message.http_logs.log_entry:
                self.receive(entry)
        return als_pb2.StreamAccessLogsResponse()

    def receive(self, entry) -> None:
        """Schedule the refund of one entry's charge when the call was charged and never reached a replica."""
        metadata = entry.common_properties.metadata.filter_metadata.get(EXT_AUTHZ_NAMESPACE)
        if not undelivered(entry) or metadata is None or CHARGE_KEY not in metadata.fields:
            return
        request_id = request_id_of(entry)
        try:
            charge = charge_from_metadata(metadata.fields[CHARGE_KEY].struct_value)
        except ValueError as error:
            self.counter.labels("invalid").inc()
            skipped = self.invalid_logs.allow()
            if skipped is not None:
                log.warning(
                    "an access log entry's charge is invalid, so it is not refunded",
                    extra={"request_id": request_id, "error": str(error), "repeats_not_logged": skipped},
                )
            return
        if entry.common_properties.upstream_wire_bytes_sent:
            self.counter.labels("sent_upstream").inc()
            log.info(
                "undelivered call kept, because Envoy sent request bytes to a service replica before the failure",
                extra={"request_id": request_id, "account_id": charge.account_id},
            )
            return
        self.refunder.schedule(charge, request_id)


def add_to_server(receiver: AccessLogReceiver, server) -> list:
    als_pb2_grpc.add_AccessLogServiceServicer_to_server(receiver, server)
    return [als_pb2.DESCRIPTOR.services_by_name["AccessLogService"]]
