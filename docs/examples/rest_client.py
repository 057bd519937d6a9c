"""Calls the defrag REST API with the Python standard library: telemetry, then usage.

    DEFRAG_API_KEY=sk_live_... python3 docs/examples/rest_client.py

DEFRAG_URL is the public listener, http://127.0.0.1:8080 by default. On an
error response the script prints the HTTP status, the ErrorInfo reason and
the message, and exits with status 1. A 429 or 503 with a Retry-After of at
most MAX_RETRY_WAIT_SECONDS is retried once after that wait.
"""

import email.message
import email.utils
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8080"
TIMEOUT_SECONDS = 30
MAX_RETRY_WAIT_SECONDS = 10
RETRYABLE_STATUSES = (429, 503)
ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"


class ApiError(Exception):
    """An error response from the API, read from its google.rpc.Status JSON body."""

    def __init__(self, status: int, body: bytes, retry_after: str | None):
        self.status = status
        self.retry_after = retry_after
        self.reason = ""
        self.message = body.decode("utf-8", "replace").strip()
        try:
            error = json.loads(body)
        except ValueError:
            error = None
        if isinstance(error, dict):
            self.message = error.get("message", self.message)
            for detail in error.get("details", []):
                if detail.get("@type") == ERROR_INFO_TYPE:
                    self.reason = detail.get("reason", "")
        super().__init__(f"HTTP {status} {self.reason or '(no ErrorInfo reason)'}: {self.message}")


def retry_wait_seconds(retry_after: str | None) -> float | None:
    """Converts a Retry-After value (seconds or an HTTP date) to seconds, or returns None when it is absent or invalid."""
    if not retry_after:
        return None
    if retry_after.strip().isdigit():
        return float(retry_after)
    try:
        when = email.utils.parsedate_to_datetime(retry_after)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def send(url: str, key: str) -> tuple[dict, email.message.Message]:
    """Sends one GET and returns the JSON body and the response headers. Raises ApiError on an HTTP error."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return json.load(response), response.headers
    except urllib.error.HTTPError as error:
        raise ApiError(error.code, error.read(), error.headers.get("Retry-After")) from None


def get(url: str, key: str) -> tuple[dict, email.message.Message]:
    """Sends a GET, and retries once when a 429 or 503 carries a Retry-After of at most MAX_RETRY_WAIT_SECONDS."""
    try:
        return send(url, key)
    except ApiError as error:
        wait = retry_wait_seconds(error.retry_after)
        if error.status not in RETRYABLE_STATUSES or wait is None or wait > MAX_RETRY_WAIT_SECONDS:
            raise
        print(f"HTTP {error.status} {error.reason}; retrying once in {wait:g} s (Retry-After: {error.retry_after})")
        time.sleep(wait)
        return send(url, key)


def main() -> int:
    base_url = os.environ.get("DEFRAG_URL", DEFAULT_URL).rstrip("/")
    key = os.environ.get("DEFRAG_API_KEY")
    if not key:
        print("rest_client.py: set DEFRAG_API_KEY to an API key "
              "(create one with: .venv/bin/defrag keys create --account acct_demo --tier pro)", file=sys.stderr)
        return 2

    query = urllib.parse.urlencode({"date": "1990-01-15", "time": "14:30", "lat": 34.05, "lon": -118.24}, safe=":")
    try:
        vectors, headers = get(f"{base_url}/v1/telemetry/vectors?{query}", key)
        print(f"== GET /v1/telemetry/vectors?{query}")
        print(f"RateLimit: {headers.get('RateLimit')}")
        print(json.dumps(vectors, indent=2))

        usage, _ = get(f"{base_url}/v1/usage", key)
        print("== GET /v1/usage")
        print(json.dumps(usage, indent=2))
    except ApiError as error:
        print(f"error: HTTP {error.status}", file=sys.stderr)
        print(f"reason: {error.reason or '(no ErrorInfo reason)'}", file=sys.stderr)
        print(f"message: {error.message}", file=sys.stderr)
        return 1
    except urllib.error.URLError as error:
        print(f"rest_client.py: cannot reach {base_url} ({error.reason}); is the mesh running (make run)?", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
