"""RateLimit-Policy and RateLimit headers, structured-field form of the IETF httpapi RateLimit draft.

Two policies: "monthly" counts calls in the current monthly window (its
window w is that window's length in seconds), and "burst" counts requests in
one second. RateLimit lists the policy nearest exhaustion first, then the
other one, so the remaining monthly quota is always visible.
"""

import math
import time

from services.gateway.store import Decision


def headers(decision: Decision, now: float | None = None) -> list[tuple[str, str]]:
    """Returns the rate-limit headers for an admitted or limited request."""
    now = time.time() if now is None else now
    burst_remaining = max(0, decision.burst - decision.burst_used)
    policies = [f'"burst";q={decision.burst};w=1']
    # Each item: (share left, name, remaining, seconds to reset).
    items = [(burst_remaining / max(decision.burst, 1), "burst", burst_remaining, 1)]

    if decision.quota is not None:
        window = decision.window_end - decision.window_start
        remaining = max(0, decision.quota - decision.used)
        reset = max(0, math.ceil(decision.window_end - now))
        policies.insert(0, f'"monthly";q={decision.quota};w={window}')
        share = remaining / decision.quota if decision.quota else 0.0
        # On a tie the monthly quota comes first: it takes longer to recover.
        items.insert(0, (share, "monthly", remaining, reset))

    items.sort(key=lambda item: item[0])
    return [
        ("ratelimit-policy", ", ".join(policies)),
        ("ratelimit", ", ".join(f'"{name}";r={remaining};t={reset}' for _, name, remaining, reset in items)),
    ]
