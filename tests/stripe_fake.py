"""A fake Stripe API on 127.0.0.1 that serves the subscription reads a reconcile command makes.

It implements `GET /v1/subscriptions` and `GET /v1/subscriptions/{id}` with Stripe's
list, pagination, authentication and error contract (https://docs.stripe.com/api/subscriptions/list,
https://docs.stripe.com/api/errors). The subscriptions are served exactly as given, so a test
chooses the API shape by the dicts it passes in (see tests/data/stripe/README.md).

    with StripeFake(api_key="sk_test_fake", subscriptions=[...]) as fake:
        client = stripe.StripeClient("sk_test_fake", base_addresses={"api": fake.url})
"""

from __future__ import annotations

import copy
import dataclasses
import http.server
import itertools
import json
import logging
import re
import threading
import urllib.parse
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 10
MAX_LIMIT = 100

# Filters accepted by the `status` parameter of GET /v1/subscriptions. Without the
# parameter Stripe returns every subscription that is not canceled.
SUBSCRIPTION_STATUSES = frozenset(
    {"active", "canceled", "incomplete", "incomplete_expired", "past_due", "paused", "trialing", "unpaid"}
)
ENDED_STATUSES = frozenset({"canceled", "incomplete_expired"})

# The fake accepts these expansions and ignores them, because the held subscriptions
# already contain whole price objects.
LIST_EXPANSIONS = frozenset({"data.items.data.price"})
RETRIEVE_EXPANSIONS = frozenset({"items.data.price"})

# `expand[]=x` from hand-written requests and `expand[0]=x` from the stripe library.
EXPAND_KEY = re.compile(r"^expand\[\d*\]$")
SUBSCRIPTION_PATH = re.compile(r"^/v1/subscriptions/([^/]+)$")


@dataclasses.dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received, with the response status it sent."""

    method: str
    path: str
    # Query parameters as urllib.parse.parse_qs returns them: each name maps to all its values.
    query: dict[str, list[str]]
    # Header names in lower case. The Authorization value is replaced by "<redacted>"
    # so that no API key is stored.
    headers: dict[str, str]
    stripe_version: str | None
    status: int


@dataclasses.dataclass
class _FailurePlan:
    remaining: int
    status: int
    retry_after: int
    should_retry: bool | None


class StripeError(Exception):
    """An error response in Stripe's shape: {"error": {"type", "message", "code"?, "param"?}}."""

    def __init__(self, status: int, error_type: str, message: str, code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"type": error_type, "message": message}
        if code is not None:
            self.body["code"] = code
        if param is not None:
            self.body["param"] = param


class StripeFake:
    """A threaded HTTP server that plays the Stripe API for the subscription list and retrieve calls.

    Use it as a context manager, or call start() and stop(). The subscription list,
    the request records and the failure plan may be read and changed from any thread
    while the server runs.
    """

    def __init__(self, api_key: str, subscriptions: Iterable[dict[str, Any]] = ()):
        if not api_key:
            raise ValueError("api_key is empty: the fake needs a key to compare the Authorization header against")
        self._api_key = api_key
        self._lock = threading.Lock()
        self._subscriptions: list[dict[str, Any]] = []
        self._requests: list[RecordedRequest] = []
        self._failure: _FailurePlan | None = None
        self._request_numbers = itertools.count(1)
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.subscriptions = list(subscriptions)

    # Lifecycle

    def start(self) -> StripeFake:
        """Bind 127.0.0.1 on a free port and serve requests on a background thread."""
        if self._server is not None:
            raise RuntimeError("the Stripe fake is already running")
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        # A short poll interval keeps stop() fast, because shutdown() waits for the next poll.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="stripe-fake", daemon=True
        )
        self._thread.start()
        log.info("Stripe fake started on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket. Calling it on a stopped fake does nothing."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        log.info("Stripe fake on %s stopped after %d requests", self.url, len(self.requests))
        self._server = None
        self._thread = None

    def __enter__(self) -> StripeFake:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL of the running fake, such as "http://127.0.0.1:49152", with no trailing slash."""
        if self._server is None:
            raise RuntimeError("the Stripe fake is not running: call start() or use it in a with block")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # State that tests set and read

    @property
    def subscriptions(self) -> list[dict[str, Any]]:
        """A deep copy of the served subscriptions. Assigning a new list replaces them.

        Each subscription needs a unique string `id` and an integer `created`, because
        the list endpoint orders by `created` and pages by `id`.
        """
        with self._lock:
            return copy.deepcopy(self._subscriptions)

    @subscriptions.setter
    def subscriptions(self, subscriptions: Iterable[dict[str, Any]]) -> None:
        replacement = copy.deepcopy(list(subscriptions))
        seen: set[str] = set()
        for index, subscription in enumerate(replacement):
            subscription_id = subscription.get("id")
            if not isinstance(subscription_id, str) or not subscription_id:
                raise ValueError(f"subscription {index} has no string id: {subscription_id!r}")
            if not isinstance(subscription.get("created"), int):
                raise ValueError(f"subscription {subscription_id} has no integer created time")
            if subscription_id in seen:
                raise ValueError(f"subscription id {subscription_id} is given twice")
            seen.add(subscription_id)
        with self._lock:
            self._subscriptions = replacement

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first, including rejected and failed ones."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def fail_next(self, count: int, status: int = 500, retry_after: int = 1, should_retry: bool | None = None) -> None:
        """Fail the next `count` requests with `status` and a Stripe error body, before any other check.

        A 429 response carries `Retry-After: <retry_after>` (seconds). When `should_retry`
        is not None, the response also carries the `Stripe-Should-Retry` header, which the
        stripe library obeys when it decides whether to retry. A new call replaces the
        previous plan, and `count=0` cancels it.
        """
        if count < 0:
            raise ValueError(f"count must be 0 or more, got {count}")
        if not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status from 400 to 599, got {status}")
        if retry_after < 0:
            raise ValueError(f"retry_after must be 0 or more seconds, got {retry_after}")
        with self._lock:
            self._failure = _FailurePlan(count, status, retry_after, should_retry) if count else None

    # Called by the request handler

    def _take_failure(self) -> _FailurePlan | None:
        with self._lock:
            plan = self._failure
            if plan is None:
                return None
            plan.remaining -= 1
            if plan.remaining == 0:
                self._failure = None
            return dataclasses.replace(plan)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_request_id(self) -> str:
        return f"req_fake{next(self._request_numbers):06d}"

    def _is_authorized(self, header: str | None) -> bool:
        return header == f"Bearer {self._api_key}"

    def _sorted_subscriptions(self) -> list[dict[str, Any]]:
        """All held subscriptions, newest `created` first, as Stripe orders list results."""
        with self._lock:
            snapshot = copy.deepcopy(self._subscriptions)
        return sorted(snapshot, key=lambda subscription: subscription["created"], reverse=True)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "StripeFake/1"

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("Stripe fake: " + format, *args)

    @property
    def fake(self) -> StripeFake:
        return self.server.fake  # type: ignore[attr-defined]

    def _handle(self) -> None:
        # Read any request body so that the connection can serve the next request.
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)

        parsed = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        extra_headers: dict[str, str] = {}
        try:
            status, body = self._respond(parsed.path, query, extra_headers)
        except StripeError as error:
            log.debug("Stripe fake: %s %s failed with HTTP %d: %s", self.command, parsed.path, error.status, error)
            status, body = error.status, {"error": error.body}

        headers = {name.lower(): value for name, value in self.headers.items()}
        if "authorization" in headers:
            headers["authorization"] = "<redacted>"
        stripe_version = self.headers.get("Stripe-Version")
        self.fake._record(RecordedRequest(self.command, parsed.path, query, headers, stripe_version, status))

        payload = json.dumps(body, indent=2).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Request-Id", self.fake._next_request_id())
        if stripe_version:
            self.send_header("Stripe-Version", stripe_version)
        for name, value in extra_headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _respond(self, path: str, query: dict[str, list[str]], extra_headers: dict[str, str]) -> tuple[int, Any]:
        failure = self.fake._take_failure()
        if failure is not None:
            raise _injected_error(failure, extra_headers)

        authorization = self.headers.get("Authorization")
        if authorization is None:
            raise StripeError(
                401,
                "invalid_request_error",
                "You did not provide an API key. Send it in the Authorization header as 'Bearer <secret key>'.",
            )
        if not self.fake._is_authorized(authorization):
            raise StripeError(
                401, "invalid_request_error", "Invalid API Key provided. Send the key the Stripe fake was created with."
            )

        if self.command == "GET" and path == "/v1/subscriptions":
            return 200, _list_subscriptions(self.fake._sorted_subscriptions(), query)
        match = SUBSCRIPTION_PATH.match(path)
        if self.command == "GET" and match:
            subscription_id = urllib.parse.unquote(match.group(1))
            return 200, _retrieve_subscription(self.fake._sorted_subscriptions(), subscription_id, query)
        raise StripeError(
            404,
            "invalid_request_error",
            f"Unrecognized request URL ({self.command}: {path}). "
            "The Stripe fake serves only GET /v1/subscriptions and GET /v1/subscriptions/{id}.",
        )


def _injected_error(failure: _FailurePlan, extra_headers: dict[str, str]) -> StripeError:
    if failure.should_retry is not None:
        extra_headers["Stripe-Should-Retry"] = "true" if failure.should_retry else "false"
    if failure.status == 429:
        # NOTE: this body is a guess at Stripe's 429 body, not taken from a documented
        # example. The stripe library classifies the error by the HTTP status alone.
        extra_headers["Retry-After"] = str(failure.retry_after)
        return StripeError(
            429,
            "invalid_request_error",
            "Too many requests hit the API too quickly (failure injected by the Stripe fake).",
            code="rate_limit",
        )
    if failure.status >= 500:
        return StripeError(
            failure.status, "api_error", "An unknown error occurred (failure injected by the Stripe fake)."
        )
    return StripeError(
        failure.status, "invalid_request_error", f"Request failed with HTTP {failure.status} (injected by the Stripe fake)."
    )


def _split_query(query: dict[str, list[str]], allowed: set[str]) -> tuple[dict[str, str], list[str]]:
    """Separate `expand[...]` values from single-valued parameters, rejecting unknown and repeated names."""
    params: dict[str, str] = {}
    expansions: list[str] = []
    for name, values in query.items():
        if EXPAND_KEY.match(name):
            expansions.extend(values)
        elif name not in allowed:
            raise StripeError(
                400,
                "invalid_request_error",
                f"Received unknown parameter: {name}. The Stripe fake accepts {sorted(allowed)} and expand[].",
                param=name,
            )
        elif len(values) > 1:
            raise StripeError(
                400, "invalid_request_error", f"Invalid {name}: given {len(values)} times, expected once.", param=name
            )
        else:
            params[name] = values[0]
    return params, expansions


def _check_expansions(expansions: list[str], supported: frozenset[str]) -> None:
    for expansion in expansions:
        if expansion not in supported:
            raise StripeError(
                400,
                "invalid_request_error",
                f"The Stripe fake cannot expand {expansion!r}. It accepts only {sorted(supported)}.",
                param="expand",
            )


def _parse_limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    try:
        limit = int(text)
    except ValueError:
        raise StripeError(400, "invalid_request_error", f"Invalid integer: {text}", param="limit") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise StripeError(
            400, "invalid_request_error", f"limit must be between 1 and {MAX_LIMIT}, got {limit}.", param="limit"
        )
    return limit


def _status_filter(status: str | None):
    if status is None:
        return lambda subscription: subscription.get("status") != "canceled"
    if status == "all":
        return lambda subscription: True
    if status == "ended":
        return lambda subscription: subscription.get("status") in ENDED_STATUSES
    if status in SUBSCRIPTION_STATUSES:
        return lambda subscription: subscription.get("status") == status
    raise StripeError(
        400,
        "invalid_request_error",
        f"Invalid status: must be one of all, ended or {', '.join(sorted(SUBSCRIPTION_STATUSES))}; got {status!r}.",
        param="status",
    )


def _cursor_index(ordered: list[dict[str, Any]], cursor: str, param: str) -> int:
    for index, subscription in enumerate(ordered):
        if subscription["id"] == cursor:
            return index
    raise StripeError(
        400, "invalid_request_error", f"No such subscription: '{cursor}'", code="resource_missing", param=param
    )


def _list_subscriptions(ordered: list[dict[str, Any]], query: dict[str, list[str]]) -> dict[str, Any]:
    params, expansions = _split_query(query, {"status", "limit", "starting_after", "ending_before", "customer"})
    _check_expansions(expansions, LIST_EXPANSIONS)
    limit = _parse_limit(params.get("limit"))
    status_matches = _status_filter(params.get("status"))
    customer = params.get("customer")

    def matches(subscription: dict[str, Any]) -> bool:
        # Stripe's `customer` filter keeps one customer's subscriptions.
        return status_matches(subscription) and (customer is None or subscription.get("customer") == customer)
    starting_after = params.get("starting_after")
    ending_before = params.get("ending_before")
    if starting_after is not None and ending_before is not None:
        raise StripeError(
            400, "invalid_request_error", "Give starting_after or ending_before, not both.", param="ending_before"
        )

    # The cursor is looked up among all subscriptions, so a page may start after one
    # that the status filter excludes.
    if starting_after is not None:
        after = ordered[_cursor_index(ordered, starting_after, "starting_after") + 1 :]
        candidates = [subscription for subscription in after if matches(subscription)]
        page = candidates[:limit]
    elif ending_before is not None:
        before = ordered[: _cursor_index(ordered, ending_before, "ending_before")]
        candidates = [subscription for subscription in before if matches(subscription)]
        page = candidates[-limit:]
    else:
        candidates = [subscription for subscription in ordered if matches(subscription)]
        page = candidates[:limit]

    return {"object": "list", "url": "/v1/subscriptions", "has_more": len(candidates) > limit, "data": page}


def _retrieve_subscription(
    ordered: list[dict[str, Any]], subscription_id: str, query: dict[str, list[str]]
) -> dict[str, Any]:
    _, expansions = _split_query(query, set())
    _check_expansions(expansions, RETRIEVE_EXPANSIONS)
    for subscription in ordered:
        if subscription["id"] == subscription_id:
            return subscription
    raise StripeError(
        404,
        "invalid_request_error",
        f"No such subscription: '{subscription_id}'",
        code="resource_missing",
        param="id",
    )
