"""The keyed hash of an audited text and the audit record that SEDA appends to a Redis stream.

A record contains the hash, the score, the band, the model version and the
caller's ids, never the text, a name or birth data. The hash is an
HMAC-SHA-256 with a server secret, so a reader of the stream who lacks the
secret cannot test guesses of a short text against a stored hash.

Each XADD trims entries older than the retention with MINID ~, which is
cheap because Redis then removes whole stream nodes only
(stream-node-max-entries, 100 by default). A node is removed once its newest
entry expires, so with few audits an entry could outlive the retention by
much more than the interval between writes. An exact XTRIM every hour
(TRIM_INTERVAL_SECONDS in __main__) bounds that overrun to one hour.
"""

import dataclasses
import hashlib
import hmac
import logging
import time

from prometheus_client import Counter
from redis import exceptions as redis_errors
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from defrag.platform import redis_client
from defrag.platform.logs import RepeatLimiter
from defrag.platform.config import ConfigError
from defrag.platform.redis_errors import UNAVAILABLE_ERRORS

log = logging.getLogger("seda.audit")

STREAM = "dfg:seda:audit"
# The server secret must carry at least 256 bits, the output size of SHA-256.
MIN_SECRET_BYTES = 32
DAY_MS = 86_400_000
# At most one log line per interval while writes keep failing, but the metric counts every failure.
FAILURE_LOG_INTERVAL_SECONDS = 10.0

WRITE_FAILURES = Counter(
    "defrag_seda_audit_write_failures_total",
    "Audit records that could not be written to the Redis stream, by reason.",
    ["reason"],
)
FAILURE_REASONS = ("unavailable", "rejected")
for _reason in FAILURE_REASONS:
    WRITE_FAILURES.labels(_reason)


def read_secret(value: str) -> bytes:
    """Return the HMAC secret as UTF-8 bytes, or raise ConfigError when it is shorter than 32 bytes."""
    secret = value.encode("utf-8")
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"SEDA_AUDIT_HMAC_SECRET is {len(secret)} bytes long; set a random secret of at least "
            f"{MIN_SECRET_BYTES} bytes, for example the output of `openssl rand -hex 32`"
        )
    return secret


def input_hash(secret: bytes, text: str) -> str:
    """Return the HMAC-SHA-256 of the text's UTF-8 bytes under the secret, as 64 lowercase hex digits."""
    return hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclasses.dataclass(frozen=True)
class AuditRecord:
    """One audit as stored in the stream. Every field is an id, a hash or a result, never input text."""

    request_id: str
    timestamp: str
    input_hash: str
    seda_score: int
    band: str
    model_version: str
    key_id: str
    account_id: str
    tier: str
    context: str
    # A replay of an earlier call with the same Idempotency-Key, which the gateway admitted free.
    idempotent_replay: bool = False

    def fields(self) -> dict[str, str]:
        return {name: _field_text(value) for name, value in dataclasses.asdict(self).items()}


def _field_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class AuditLog:
    """Appends audit records to the Redis stream, failing fast when Redis does not respond."""

    def __init__(self, url: str, retention_days: int, timeout_seconds: float, stream: str = STREAM, *,
                 cluster: bool = False):
        # One retry after a connection error, which replaces a connection
        # that Redis closed (after a restart, say) at no cost. No retry after
        # a timeout, because that would double the wait of a call that
        # already has its score. The caller learns of a failure from
        # audit_logged=false. A cluster client keeps the same rule, and the
        # stream, one key, lives on the one primary that serves its slot.
        self.redis = redis_client.connect(
            url,
            cluster,
            retries=1,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            retry=Retry(NoBackoff(), 1, supported_errors=(redis_errors.ConnectionError,)),
            decode_responses=True,
        )
        self.stream = stream
        self.retention_ms = retention_days * DAY_MS
        self._failure_logs = RepeatLimiter(FAILURE_LOG_INTERVAL_SECONDS)

    def oldest_kept_id(self) -> str:
        """Return the stream id before which entries are past the retention."""
        return str(int(time.time() * 1000) - self.retention_ms)

    async def append(self, record: AuditRecord) -> bool:
        """Add the record to the stream, trim expired entries and return whether Redis stored it."""
        try:
            await self.redis.xadd(self.stream, record.fields(), minid=self.oldest_kept_id(), approximate=True)
        except UNAVAILABLE_ERRORS as error:
            self._count_failure("unavailable", error, record.request_id)
            return False
        except redis_errors.RedisError as error:
            # An error reply such as OOM or READONLY means that Redis is up but cannot write.
            self._count_failure("rejected", error, record.request_id)
            return False
        return True

    async def trim(self) -> int:
        """Remove every entry past the retention, exactly, and return how many Redis removed.

        Raises a redis-py RedisError when Redis cannot trim now. A cluster
        client's own unavailable errors, which are not RedisErrors, become
        ConnectionError.
        """
        try:
            return await self.redis.xtrim(self.stream, minid=self.oldest_kept_id(), approximate=False)
        except redis_errors.RedisClusterException as error:
            raise redis_errors.ConnectionError(f"{type(error).__name__}: {error}") from error

    async def close(self) -> None:
        await self.redis.aclose()

    def _count_failure(self, reason: str, error: Exception, request_id: str) -> None:
        WRITE_FAILURES.labels(reason).inc()
        skipped = self._failure_logs.allow()
        if skipped is None:
            return
        log.warning(
            "writing the audit record failed; the response has audit_logged=false",
            extra={
                "request_id": request_id,
                "reason": reason,
                "error": f"{type(error).__name__}: {str(error)[:200]}",
                "failures_not_logged": skipped,
            },
        )
