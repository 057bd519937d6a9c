"""Envoy's ext_authz server: one decision per call, REST and gRPC alike.

Envoy runs the JSON transcoder before ext_authz, so every request arrives
here as a gRPC method path with a protobuf body (REST calls also carry the
original path in x-envoy-original-path). The order of checks:

  method known? -> key present and well-formed? -> body within limits and
  parseable? -> key known? -> one atomic script: key active, account,
  tier, burst, quota, idempotency, charge

Nothing is charged unless the last step admits the call.
"""

import asyncio
import base64
import collections
import functools
import hashlib
import hmac
import logging
import math
import time
import urllib.parse
import zlib

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from envoy.type.v3 import http_status_pb2
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError
from google.rpc import status_pb2
from prometheus_client import Counter, Histogram

from defrag.platform.errors import ApiError, FieldViolation, QuotaViolation, status_json
from defrag.platform.logs import RepeatLimiter
from defrag.platform.server import MAX_ID_LENGTH
from services.gateway import apikeys, ratelimit, tiers as tiers_module
from services.gateway.methods import PUBLIC_METHODS, MethodRule
from services.gateway.refunds import ChargeRefunder
from services.gateway.store import Decision, Store, StoreUnavailable, account_key, hash_index
from services.gateway.undelivered import charge_metadata

log = logging.getLogger("gateway.authz")

DECISIONS = Counter(
    "defrag_gateway_decisions_total",
    "Authorization decisions, by result (allowed or denied), reason and tier.",
    ["result", "reason", "tier"],
)
CHARGED = Counter("defrag_gateway_charged_calls_total", "Calls charged to accounts' quotas, by tier.", ["tier"])
REDIS_LATENCY = Histogram(
    "defrag_gateway_redis_seconds",
    "Time of the gateway's Redis round trips, by operation.",
    ["operation"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5),
)
REDIS_ERRORS = Counter(
    "defrag_gateway_redis_errors_total",
    "The gateway's Redis round trips that failed, by operation and reason: timeout (no reply in time, "
    "or the metering script ran after its deadline) or unavailable (no connection, or a reply such as "
    "CLUSTERDOWN or TRYAGAIN).",
    ["operation", "reason"],
)
REDIS_ERROR_REASONS = ("timeout", "unavailable")
# At most one "redis unavailable" warning per Redis node per interval; the
# line counts the ones left out, and REDIS_ERRORS counts every failure.
UNAVAILABLE_LOG_INTERVAL_SECONDS = 1.0
QUOTA_USED = Histogram(
    "defrag_gateway_quota_used_ratio",
    "Share of the account's monthly quota used once a charged call is admitted, by tier; "
    "tiers without a monthly cap record nothing.",
    ["tier"],
    buckets=(0.1, 0.25, 0.5, 0.75, 0.8, 0.9, 0.95, 1.0),
)

DENIAL_REASONS = (
    "METHOD_NOT_FOUND", "API_KEY_MISSING", "API_KEY_MALFORMED", "API_KEY_UNKNOWN", "API_KEY_REVOKED",
    "API_KEY_EXPIRED", "ACCOUNT_NOT_FOUND", "ACCOUNT_CANCELED", "TIER_UNKNOWN", "METHOD_NOT_IN_TIER",
    "BODY_TOO_LARGE", "MALFORMED_BODY", "COUNT_OUT_OF_RANGE", "INVALID_IDEMPOTENCY_KEY",
    "IDEMPOTENCY_KEY_REUSED", "BURST_LIMIT_EXCEEDED", "MONTHLY_QUOTA_EXCEEDED", "REDIS_UNAVAILABLE",
    "INVALID_REQUEST_ID", "REPEATED_HEADER", "INVALID_REQUEST",
)
# Headers whose repeats would be joined into one value that means something else.
SINGLE_HEADERS = ("authorization", "x-api-key", "idempotency-key", "x-request-id")
# API keys, request ids and idempotency keys may not contain a comma, so a
# comma in one of these headers is read as two values that a proxy joined.
COMMA_FREE_HEADERS = frozenset({"authorization", "x-api-key", "idempotency-key", "x-request-id"})

OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
IDENTITY_HEADERS = ("x-defrag-key-id", "x-defrag-account-id", "x-defrag-tier", "x-defrag-idempotent-replay")
# Credentials never reach a service. The original REST path stays (Envoy's
# error mapping uses it to tell REST from gRPC) without its api_key parameter.
REMOVED_HEADERS = ["authorization", "x-api-key"]
DEPRECATION_HEADERS = [
    ("deprecation", "@1767225600"),  # 2026-01-01T00:00:00Z, structured-field date (RFC 9745)
    ("warning", '299 api.defrag.app "the api_key query parameter is deprecated; send the key in an Authorization: Bearer header"'),
]
IDEMPOTENCY_KEY_MAX = 255
# Envoy waits at most 1 s for a decision (authz_timeout in the Envoy
# template) and 0.4 s for each of its two attempts, the second on another
# replica (the ext_authz retry policy there). A metering script that has not
# run 0.25 s after the check began charges nothing. The gateway stops waiting
# for Redis 0.1 s after that (Store.deadline_margin). So each attempt
# responds before Envoy gives up on it, and a call that Envoy rejected with
# 503 is not charged.
# NOTE: one such call is still charged: a replica charged it and then froze
# or died before responding, and the retry on another replica failed as well.
# When Redis ran the script in time but its reply came late, the charge is
# refunded (ChargeRefunder) if the reply still arrives.
DECISION_BUDGET_SECONDS = 0.25
# Taken off the caller's own gRPC deadline for the same reason.
CALLER_DEADLINE_MARGIN_SECONDS = 0.1

DENIAL_MESSAGES = {
    "API_KEY_UNKNOWN": "the API key is not known; check that you copied the whole key, or create one with `defrag keys create`",
    "API_KEY_REVOKED": "the API key was revoked; use another key of the account or create a new one",
    "API_KEY_EXPIRED": "the API key has expired; use the key that replaced it or create a new one",
    "ACCOUNT_NOT_FOUND": "the account of this API key no longer exists; contact support with the request id",
    "ACCOUNT_CANCELED": "the account is canceled; renew the subscription to call the API again",
    "TIER_UNKNOWN": "the account's tier {tier!r} is not defined in the tiers file; contact support with the request id",
    "IDEMPOTENCY_KEY_REUSED": "this Idempotency-Key was used in the last 24 hours for a different request; use a new key for a new request",
}
DENIAL_CODES = {
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    409: grpc.StatusCode.ALREADY_EXISTS,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
}


_decision_counters: dict[tuple[str, str, str], object] = {}


def count_decision(result: str, reason: str, tier: str) -> None:
    """Increments the decision counter, binding each label set once."""
    counter = _decision_counters.get((result, reason, tier))
    if counter is None:
        counter = _decision_counters[(result, reason, tier)] = DECISIONS.labels(result, reason, tier)
    counter.inc()


def _header(name: str, value: str) -> base_pb2.HeaderValueOption:
    return base_pb2.HeaderValueOption(header=base_pb2.HeaderValue(key=name, value=value), append_action=OVERWRITE)


def _non_finite_field(message, prefix: str = "") -> str:
    """Return the path of the first float or double field that is NaN or infinite, or "" when there is none."""
    for descriptor, value in message.ListFields():
        name = f"{prefix}{descriptor.name}"
        if descriptor.type in _FLOATING_TYPES:
            values = value if descriptor.is_repeated else [value]
            if any(not math.isfinite(item) for item in values):
                return name
        elif descriptor.type == descriptor.TYPE_MESSAGE:
            items = value if descriptor.is_repeated else [value]
            for index, item in enumerate(items):
                label = f"{name}[{index}]." if descriptor.is_repeated else f"{name}."
                found = _non_finite_field(item, label)
                if found:
                    return found
    return ""


_FLOATING_TYPES = (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT)

# The part of a REST request that its message size counts, by the route's HTTP verb.
_MEASURED_AS = {"get": " (its query parameters)", "post": " (its JSON body as a protobuf message)"}


class Denied(Exception):
    """Ends a check with a denial; carries the error and extra response headers."""

    def __init__(self, http_status: int, error: ApiError, headers: list[tuple[str, str]] | None = None, tier: str = ""):
        super().__init__(error.message)
        self.http_status = http_status
        self.error = error
        self.headers = headers or []
        self.tier = tier


class RequestHeaders(dict):
    """The checked request's headers by lowercase name, repeats joined with ",", read in one pass.

    With Envoy's encode_raw_headers they arrive as raw bytes in header_map.
    Bytes that are not UTF-8 become U+FFFD, which every ASCII-only check then
    rejects, and the names of such headers are kept in ``undecodable``.
    Without raw headers (an older Envoy configuration) the headers map is used.
    """

    def __init__(self, http) -> None:
        super().__init__()
        self.counts: collections.Counter[str] = collections.Counter()
        self.undecodable: list[str] = []
        if not http.header_map.headers:
            self.update(http.headers)
            return
        for header in http.header_map.headers:
            try:
                value = header.raw_value.decode("utf-8") if header.raw_value else header.value
            except UnicodeDecodeError:
                value = header.raw_value.decode("utf-8", "replace")
                self.undecodable.append(header.key)
            self.counts[header.key] += 1
            self[header.key] = f"{self[header.key]},{value}" if header.key in self else value

    def repeated(self) -> str | None:
        """Return the first of SINGLE_HEADERS that the request sends more than once, or None.

        Envoy passes most repeats as separate entries. It joins repeats of the
        headers it handles itself (such as authorization) with ",", and other
        proxies may join any repeat, so a comma in a COMMA_FREE_HEADERS value
        counts as a repeat.
        """
        for name in SINGLE_HEADERS:
            if self.counts[name] > 1 or (name in COMMA_FREE_HEADERS and "," in self.get(name, "")):
                return name
        return None


def extract_key(headers, original_path: str) -> tuple[str | None, bool]:
    """Returns the key and whether it came from the deprecated api_key query parameter.

    Raises Denied with INVALID_REQUEST when api_key is sent more than once,
    even when a header also carries a key. The edge's query check rejects
    that first, and this keeps the gateway from picking one copy if it ever
    does not.
    """
    query_keys = []
    if "api_key" in original_path:
        query = urllib.parse.urlsplit(original_path).query
        query_keys = urllib.parse.parse_qs(query, keep_blank_values=True).get("api_key", [])
    if len(query_keys) > 1:
        raise Denied(400, ApiError(
            grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST",
            "api_key: the parameter is sent more than once: send one API key, "
            "in an Authorization: Bearer header rather than the deprecated api_key",
            violations=[FieldViolation("api_key", "may appear once per request")],
        ))

    authorization = headers.get("authorization", "")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip(), False
        raise Denied(401, ApiError(
            grpc.StatusCode.UNAUTHENTICATED, "API_KEY_MALFORMED",
            "the Authorization header must read 'Bearer <key>'; send the key as 'Authorization: Bearer sk_live_...'",
        ))
    if headers.get("x-api-key"):
        return headers["x-api-key"].strip(), False
    if query_keys and query_keys[0].strip():
        return query_keys[0].strip(), True
    return None, False


def without_api_key(path: str) -> str:
    """Returns the path with every api_key query parameter removed."""
    parts = urllib.parse.urlsplit(path)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if k != "api_key"]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


class MessageTooLarge(Exception):
    """A compressed message inflates past the method's byte limit."""


def grpc_frame_message(raw: bytes, headers, max_bytes: int) -> bytes:
    """Returns the message inside one gRPC length-prefixed frame, inflating it if compressed.

    Raises ValueError for anything that is not exactly one frame, and
    MessageTooLarge when a compressed message inflates past max_bytes (the
    inflation stops there, so a small compressed body cannot cost much).
    """
    if len(raw) < 5:
        raise ValueError("the body contains no gRPC message")
    compressed, length = raw[0], int.from_bytes(raw[1:5], "big")
    if length != len(raw) - 5:
        raise ValueError("the body is not exactly one gRPC message")
    message = raw[5:]
    if compressed:
        if headers.get("grpc-encoding", "") != "gzip":
            raise ValueError("compressed messages must use grpc-encoding gzip")
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        message = inflater.decompress(message, max_bytes + 1)
        if len(message) > max_bytes:
            raise MessageTooLarge(f"the message inflates to more than {max_bytes} bytes")
        if not inflater.eof:
            raise ValueError("the compressed message is truncated")
        if inflater.unused_data:
            raise ValueError("the compressed message is followed by more data")
    return message


def check_id(attributes) -> str | None:
    """Return an id that every attempt of one Envoy request's Check shares, or None when Envoy sent no stream id.

    Envoy builds the CheckRequest once for each request it receives and sends
    the same message again when it retries on another replica. Envoy 1.40
    fills request.http.id with the random 64-bit id of that downstream
    stream, not with the client's x-request-id. The request's start time and
    the client's address and port are added so that a client still cannot
    choose the id if a later Envoy fills the field otherwise.
    """
    stream_id = attributes.request.http.id
    if not stream_id:
        return None
    started = attributes.request.time
    client = attributes.source.address.socket_address
    text = f"{stream_id} {started.seconds}.{started.nanos:09d} {client.address}:{client.port_value}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def grpc_message(text: str) -> str:
    """Percent-encodes a grpc-message value as the gRPC HTTP/2 protocol requires."""
    return "".join(chr(b) if 0x20 <= b <= 0x7E and b != 0x25 else f"%{b:02X}" for b in text.encode())


class AuthorizationServicer(external_auth_pb2_grpc.AuthorizationServicer):
    """Decides every public call: key, tier, quota, burst and charge."""

    def __init__(self, store: Store, tiers: dict[str, tiers_module.Tier]):
        self.store = store
        self.tiers = tiers
        self.tier_tables = {
            path: tiers_module.lua_table(tiers, path, rule.free) for path, rule in PUBLIC_METHODS.items()
        }
        for tier in [*tiers, ""]:
            for reason in DENIAL_REASONS:
                DECISIONS.labels("denied", reason, tier)
            DECISIONS.labels("allowed", "OK", tier)
            CHARGED.labels(tier)
            QUOTA_USED.labels(tier)
        self.lookup_latency = REDIS_LATENCY.labels("lookup")
        self.meter_latency = REDIS_LATENCY.labels("meter")
        for operation in ("lookup", "meter"):
            for reason in REDIS_ERROR_REASONS:
                REDIS_ERRORS.labels(operation, reason)
        self.unavailable_logs = RepeatLimiter(UNAVAILABLE_LOG_INTERVAL_SECONDS)
        self.refunder = ChargeRefunder(store)

    async def Check(self, request: external_auth_pb2.CheckRequest, context) -> external_auth_pb2.CheckResponse:
        http = request.attributes.request.http
        headers = RequestHeaders(http)
        original_path = headers.get("x-envoy-original-path", "")
        is_rest = bool(original_path)
        request_id = headers.get("x-request-id", "")[:MAX_ID_LENGTH]
        if not (request_id.isascii() and request_id.isprintable()):
            # Kept out of the error and the log line; _decide denies the call with INVALID_REQUEST_ID.
            request_id = ""
        started = time.perf_counter()
        try:
            response, decision, identity = await self._decide(
                http, headers, original_path, request_id, context, check_id(request.attributes)
            )
        except Denied as denied:
            count_decision("denied", denied.error.reason, denied.tier)
            self._log(request_id, http.path, "denied", denied.error.reason, denied.tier, started)
            return self._denial(denied, is_rest, request_id)

        count_decision("allowed", "OK", decision.tier)
        self._log(request_id, http.path, "allowed", _admission_reason(decision), decision.tier, started, identity)
        return response

    async def _decide(self, http, headers, original_path, request_id, context, attempt: str | None):
        # The script may charge only while Envoy still waits for this attempt.
        budget = DECISION_BUDGET_SECONDS
        remaining = context.time_remaining() if context is not None else None
        if remaining is not None:
            budget = min(budget, remaining - CALLER_DEADLINE_MARGIN_SECONDS)
        deadline = time.time() + budget
        give_up_at = asyncio.get_running_loop().time() + budget + self.store.deadline_margin
        rule = PUBLIC_METHODS.get(http.path)
        if rule is None:
            raise Denied(404, ApiError(
                grpc.StatusCode.UNIMPLEMENTED, "METHOD_NOT_FOUND",
                f"no such method: {http.path[:200]}; list the public methods with gRPC server reflection",
            ))
        repeated = headers.repeated()
        if repeated and headers.counts[repeated] > 1:
            raise Denied(400, ApiError(
                grpc.StatusCode.INVALID_ARGUMENT, "REPEATED_HEADER",
                f"the {repeated} header was sent more than once; send it once",
                violations=[FieldViolation(repeated, "may appear once per request")],
            ))
        if repeated:
            raise Denied(400, ApiError(
                grpc.StatusCode.INVALID_ARGUMENT, "REPEATED_HEADER",
                f"the {repeated} header was sent more than once or contains a comma, which the two look like "
                "because proxies and Envoy join repeated headers with one; send it once, with a value without a comma",
                violations=[FieldViolation(repeated, "may appear once per request, without a comma")],
            ))
        raw_request_id = headers.get("x-request-id", "")
        if not (raw_request_id.isascii() and raw_request_id.isprintable()):
            # Every service logs the id and passes it on; gRPC libraries log
            # an error line for each metadata value that is not valid UTF-8.
            raise Denied(400, ApiError(
                grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST_ID",
                "x-request-id must be printable ASCII; send a UUID, or leave it out and the edge makes one",
                violations=[FieldViolation("x-request-id", "printable ASCII characters only")],
            ))
        if len(raw_request_id) > MAX_ID_LENGTH:
            # Services echo and log at most MAX_ID_LENGTH characters, so a longer
            # id would not match the one in the response and the logs.
            raise Denied(400, ApiError(
                grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST_ID",
                f"x-request-id is {len(raw_request_id)} characters long, over the limit of {MAX_ID_LENGTH}; "
                "send a UUID, or leave it out and the edge makes one",
                violations=[FieldViolation("x-request-id", f"at most {MAX_ID_LENGTH} characters")],
            ))

        key, from_query = extract_key(headers, original_path)
        if not key:
            raise Denied(401, ApiError(
                grpc.StatusCode.UNAUTHENTICATED, "API_KEY_MISSING",
                "no API key; send it as 'Authorization: Bearer <key>' or in the x-api-key header",
            ))
        if apikeys.mode_of(key) is None:
            raise Denied(401, ApiError(
                grpc.StatusCode.UNAUTHENTICATED, "API_KEY_MALFORMED",
                "the API key is malformed (wrong length, characters or checksum); copy the whole key as it was shown",
            ))

        message = self._parse_body(rule, http.raw_body, headers, is_rest=bool(original_path))
        idempotency = self._idempotency(rule, headers, message, bool(original_path), key)

        digest = apikeys.digest(key)
        # The operation under way and a key of its slot, for the log line and metric of a failure.
        operation, route_key = "lookup", hash_index(digest)
        try:
            # A slow Redis must not keep this attempt past Envoy's per-try
            # timeout: a script that runs after `deadline` charges nothing.
            async with asyncio.timeout_at(give_up_at):
                started = time.perf_counter()
                found = await self.store.find_key(digest)
                self.lookup_latency.observe(time.perf_counter() - started)
                if found is None:
                    raise Denied(401, ApiError(grpc.StatusCode.UNAUTHENTICATED, "API_KEY_UNKNOWN", DENIAL_MESSAGES["API_KEY_UNKNOWN"]))
                account_id, key_id = found
                cost = rule.cost(message)
                operation, route_key = "meter", account_key(account_id)
                started = time.perf_counter()
                decision = await self.store.meter(
                    account_id, key_id, cost, self.tier_tables[rule.path], idempotency,
                    free=rule.free, deadline=deadline, check_id=attempt,
                    on_late_charge=functools.partial(self.refunder.schedule, request_id=request_id),
                )
                self.meter_latency.observe(time.perf_counter() - started)
        except (StoreUnavailable, TimeoutError) as error:
            self._redis_failed(error, operation, route_key, budget, request_id)
            raise Denied(503, ApiError(
                grpc.StatusCode.UNAVAILABLE, "REDIS_UNAVAILABLE",
                "the quota store is unavailable, so the call was not admitted; retry after 1 second",
                retry_after_seconds=1,
            ), headers=[("retry-after", "1")]) from None

        if decision.status != 200:
            raise self._metering_denial(decision, rule, cost)

        if decision.tier and not decision.replayed:
            CHARGED.labels(decision.tier).inc(cost)
            if cost and decision.quota:
                QUOTA_USED.labels(decision.tier).observe(decision.used / decision.quota)
        identity = {"key_id": key_id, "account_id": account_id}
        admission = self._admission(decision, key_id, account_id, from_query, original_path)
        if decision.charge is not None:
            # Envoy logs it with a 503 of its own when no service replica takes
            # the call, and any gateway replica then refunds the charge.
            metadata = charge_metadata(decision.charge)
            if metadata is not None:
                admission.dynamic_metadata.CopyFrom(metadata)
        # The services' gRPC library logs an error line, with the value, for each
        # header that is not valid UTF-8; such headers carry nothing the API reads.
        admission.ok_response.headers_to_remove.extend(headers.undecodable)
        return admission, decision, identity

    def _redis_failed(self, error: Exception, operation: str, route_key: str, budget: float, request_id: str) -> None:
        """Counts a failed Redis round trip and logs it, at most once per node per UNAVAILABLE_LOG_INTERVAL_SECONDS."""
        timed_out = isinstance(error, TimeoutError) or getattr(error, "timed_out", False)
        REDIS_ERRORS.labels(operation, "timeout" if timed_out else "unavailable").inc()
        node = getattr(error, "node", "") or self.store.address_of(route_key) or "unknown"
        skipped = self.unavailable_logs.allow(node)
        if skipped is None:
            return
        text = str(error) or f"no reply within {budget + self.store.deadline_margin:.2f} s"
        log.warning("redis unavailable", extra={
            "request_id": request_id,
            "redis_node": node,
            "operation": operation,
            "error": text[:200],
            "repeats_not_logged": skipped,
        })

    def _parse_body(self, rule: MethodRule, raw: bytes, headers, is_rest: bool):
        if len(raw) > rule.max_body_bytes + 5:
            raise Denied(413, ApiError(
                grpc.StatusCode.RESOURCE_EXHAUSTED, "BODY_TOO_LARGE",
                f"the request message is {len(raw) - 5} bytes{_MEASURED_AS.get(rule.rest_verb, '') if is_rest else ''}; "
                f"{rule.path} accepts at most {rule.max_body_bytes} bytes, so send shorter values",
            ))
        try:
            message = rule.request_type.FromString(grpc_frame_message(raw, headers, rule.max_body_bytes))
        except MessageTooLarge as error:
            raise Denied(413, ApiError(
                grpc.StatusCode.RESOURCE_EXHAUSTED, "BODY_TOO_LARGE",
                f"{error}; {rule.path} accepts at most {rule.max_body_bytes} bytes",
            )) from None
        except (ValueError, DecodeError, zlib.error) as error:
            raise Denied(400, ApiError(
                grpc.StatusCode.INVALID_ARGUMENT, "MALFORMED_BODY",
                f"the request body is not a valid {rule.request_type.DESCRIPTOR.full_name} ({error}); check the field names and types",
            )) from None

        if rule.count_field:
            count = len(getattr(message, rule.count_field))
            low, high = rule.count_range
            if not low <= count <= high:
                noun = "entry" if count == 1 else "entries"
                raise Denied(400, ApiError(
                    grpc.StatusCode.INVALID_ARGUMENT, "COUNT_OUT_OF_RANGE",
                    f"{rule.count_field} has {count} {noun}; send {low} to {high}",
                    violations=[FieldViolation(rule.count_field, f"has {count} {noun}; the allowed range is {low}..{high}")],
                ))

        field = _non_finite_field(message)
        if field:
            # No field of the public API accepts NaN or infinity, so such a call is refused before any charge.
            raise Denied(400, ApiError(
                grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT",
                f"{field}: NaN or infinity is not a finite number; send a decimal number such as 40.7128",
                violations=[FieldViolation(field, "is NaN or infinity; send a finite decimal number")],
            ))
        return message

    def _idempotency(self, rule: MethodRule, headers, message, is_rest: bool, key: str) -> tuple[str, str] | None:
        value = headers.get("idempotency-key")
        # The key makes a repeated POST free. A REST GET is a read that any
        # client may repeat, so there it is ignored and every call is charged.
        # Native gRPC calls are POSTs and honour it.
        if value is None or rule.free or (is_rest and rule.rest_verb == "get"):
            return None
        if not 1 <= len(value) <= IDEMPOTENCY_KEY_MAX or not value.isascii() or not value.isprintable():
            raise Denied(400, ApiError(
                grpc.StatusCode.INVALID_ARGUMENT, "INVALID_IDEMPOTENCY_KEY",
                f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} printable ASCII characters other than a comma; "
                "a UUID works",
                violations=[FieldViolation("Idempotency-Key", "1..255 printable ASCII characters, no comma")],
            ))
        # Both hashes are HMAC-SHA-256 keyed with the API key, because a plain
        # hash of the body in Redis (and its append-only file) would let anyone
        # who reads them test guesses of a short journal text. Only the key's
        # holder can compute these, so an Idempotency-Key is scoped to the API key.
        # The same request over REST or gRPC hashes alike: the message is
        # re-serialised deterministically rather than hashed as sent.
        secret = key.encode()
        body = hmac.new(secret, message.SerializeToString(deterministic=True), hashlib.sha256).hexdigest()
        return hmac.new(secret, value.encode(), hashlib.sha256).hexdigest(), f"{rule.path} {body}"

    def _metering_denial(self, decision: Decision, rule: MethodRule, cost: int) -> Denied:
        reason = decision.reason
        if decision.status == 403 and reason == "METHOD_NOT_IN_TIER":
            error = ApiError(
                grpc.StatusCode.PERMISSION_DENIED, reason,
                f"the {decision.tier} tier does not include {rule.path}; upgrade the plan to call it",
                metadata={"tier": decision.tier},
            )
            return Denied(403, error, tier=decision.tier)
        if decision.status == 429:
            return self._limited(decision, cost)
        message = DENIAL_MESSAGES.get(reason, reason).format(tier=decision.tier)
        return Denied(decision.status, ApiError(DENIAL_CODES[decision.status], reason, message), tier=decision.tier)

    def _limited(self, decision: Decision, cost: int) -> Denied:
        retry_after = max(1, -(-decision.retry_after_ms // 1000))
        if decision.reason == "BURST_LIMIT_EXCEEDED":
            subject = "burst"
            text = f"more than {decision.burst} requests in one second; retry after {retry_after} second"
        else:
            subject = "monthly"
            resets = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(decision.window_end))
            left = max(decision.quota - decision.used, 0)
            if left:
                # A call that costs several (a batch) can be refused while some quota remains.
                text = (
                    f"this call costs {cost} calls but only {left} of the monthly quota of {decision.quota} are left; "
                    f"send a smaller request, wait until the quota resets at {resets}, or upgrade the plan"
                )
            else:
                text = f"the monthly quota of {decision.quota} calls is used up ({decision.used} used); it resets at {resets}, or upgrade the plan"
        error = ApiError(
            grpc.StatusCode.RESOURCE_EXHAUSTED, decision.reason, text,
            quota_violations=[QuotaViolation(subject, text)],
            retry_after_seconds=retry_after,
            metadata={"tier": decision.tier},
        )
        headers = [("retry-after", str(retry_after)), *ratelimit.headers(decision)]
        return Denied(429, error, headers=headers, tier=decision.tier)

    def _admission(self, decision: Decision, key_id: str, account_id: str, from_query: bool, original_path: str):
        ok = external_auth_pb2.OkHttpResponse(
            headers=[
                _header("x-defrag-key-id", key_id),
                _header("x-defrag-account-id", account_id),
                _header("x-defrag-tier", decision.tier),
                # Set on every admission, so that a client cannot send its own.
                _header("x-defrag-idempotent-replay", "true" if decision.replayed else "false"),
            ],
            headers_to_remove=REMOVED_HEADERS,
            response_headers_to_add=[_header(k, v) for k, v in ratelimit.headers(decision)],
        )
        if from_query:
            ok.response_headers_to_add.extend(_header(k, v) for k, v in DEPRECATION_HEADERS)
            ok.headers.append(_header("x-envoy-original-path", without_api_key(original_path)))
        return external_auth_pb2.CheckResponse(status=status_pb2.Status(code=0), ok_response=ok)

    def _denial(self, denied: Denied, is_rest: bool, request_id: str) -> external_auth_pb2.CheckResponse:
        status = denied.error.to_status(request_id)
        headers = [_header(k, v) for k, v in denied.headers]
        if denied.http_status == 401:
            headers.append(_header("www-authenticate", 'Bearer realm="api.defrag.app"'))
        if is_rest:
            headers.append(_header("content-type", "application/json"))
            body = status_json(status)
        else:
            # Envoy maps a denied HTTP status to the wrong gRPC code, so the
            # gRPC status and its details are set here.
            headers += [
                _header("content-type", "application/grpc"),
                _header("grpc-status", str(status.code)),
                _header("grpc-message", grpc_message(status.message)),
                _header("grpc-status-details-bin", base64.b64encode(status.SerializeToString()).decode().rstrip("=")),
            ]
            body = ""
        denied_response = external_auth_pb2.DeniedHttpResponse(
            status=http_status_pb2.HttpStatus(code=denied.http_status), headers=headers, body=body
        )
        return external_auth_pb2.CheckResponse(status=status_pb2.Status(code=status.code), denied_response=denied_response)

    def _log(self, request_id, method, result, reason, tier, started, identity=None):
        extra = {
            "request_id": request_id,
            "method": method[:200],
            "result": result,
            "reason": reason,
            "tier": tier,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        if identity:
            extra.update(identity)
        log.info("decision", extra=extra)


def _admission_reason(decision: Decision) -> str:
    """Return the log reason of an admission: OK, REPLAYED (Idempotency-Key) or RETRY (Envoy's second attempt)."""
    if decision.reason == "RETRY":
        return "RETRY"
    return "REPLAYED" if decision.replayed else "OK"


def add_to_server(servicer: AuthorizationServicer, server: grpc.aio.Server):
    external_auth_pb2_grpc.add_AuthorizationServicer_to_server(servicer, server)
    return [external_auth_pb2.DESCRIPTOR.services_by_name["Authorization"]]
