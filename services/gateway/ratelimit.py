"""RateLimit-Policy and RateLimit headers, structured-field form of the IETF httpapi RateLimit draft.

Two policies: "monthly" counts calls in the current monthly window (its
window w is that window's length in seconds), "burst" counts requests in
one second. RateLimit reports the policy nearest exhaustion.
"""

import time

from services.gateway.store import Decision


def headers(decision: Decision, now: float | None = None) -> list[tuple[str, str]]:
    """Returns the rate-limit headers for an admitted or limited request."""
    now = time.time() if now is None else now
    burst_remaining = max(0, decision.burst - decision.burst_used)
    burst_reset = 1
    policies = [f'"burst";q={decision.burst};w=1']
    nearest = ("burst", burst_remaining, burst_reset, burst_remaining / max(decision.burst, 1))

    if decision.quota is not None:
        window = decision.window_end - decision.window_start
        remaining = max(0, decision.quota - decision.used)
        reset = max(0, int(decision.window_end - now))
        policies.insert(0, f'"monthly";q={decision.quota};w={window}')
        share = remaining / decision.quota if decision.quota else 0.0
        if share <= nearest[3]:
            nearest = ("monthly", remaining, reset, share)

    name, remaining, reset, _ = nearest
    return [
        ("ratelimit-policy", ", ".join(policies)),
        ("ratelimit", f'"{name}";r={remaining};t={reset}'),
    ]
