"""Accounts, keys and usage in Redis, on one server or on a Redis Cluster.

Every record of one account lives under the hash tag {account_id}, so the
metering script touches one slot and runs unchanged on Redis Cluster. The
two indexes (key hash -> key, key id -> account) and the set of account ids
live in other slots. The hash index never changes once written, so the
gateway caches it.
"""

import collections
import dataclasses
import datetime as dt
import logging
import pathlib
import time
import uuid
from collections.abc import Callable

from redis.exceptions import MovedError, RedisClusterException, SlotNotCoveredError
from redis.exceptions import TimeoutError as RedisTimeoutError

from defrag.platform import redis_client
from defrag.platform.config import ConfigError
from defrag.platform.redis_client import Script
from defrag.platform.redis_errors import UNAVAILABLE_ERRORS
from services.gateway import apikeys
from services.gateway.pipeline import ClusterPipelinedRedis, PipelinedRedis, PipelineError, ScriptError

log = logging.getLogger("gateway.store")

LUA = pathlib.Path(__file__).parent / "lua"
ROLL_GRACE_SECONDS = 86_400
# How often the gateway re-measures the offset between its clock and Redis's.
CLOCK_SYNC_SECONDS = 10.0
# A metering script must start this long before the gateway gives up waiting,
# so that a charged call's reply always arrives in time (a quarter of the
# Redis timeout when that is shorter).
DEADLINE_MARGIN_SECONDS = 0.1
# A clock sample whose round trip took longer is kept only until a better one.
CLOCK_SAMPLE_MAX_RTT_SECONDS = 0.02
IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000
# How long an admitted Check is remembered, so that Envoy's retry of the same
# Check on another replica is not charged again. Envoy retries within its
# authorization timeout (1 s, AUTHZ_TIMEOUT in defrag/envoyconf.py), so ten times
# that leaves room for a longer timeout.
CHECK_RECORD_TTL_MS = 10_000
# Replays of one Idempotency-Key that run free; later ones are charged.
FREE_REPLAYS = 5
# How long the marker of a refunded charge is kept. The gateway sends every
# attempt to refund one charge within a few seconds, so an hour covers any
# attempt that Redis runs late. Refunds are rare, so the markers take little memory.
REFUND_MARKER_TTL_MS = 3600 * 1000
# Error replies that mean "Redis cannot serve now" rather than a bug in a script.
# MOVED and ASK reach the store only when a Redis Cluster redirected a
# command twice, while its slots are moving.
UNAVAILABLE_REPLIES = (
    "LOADING", "BUSY", "MASTERDOWN", "READONLY", "OOM", "CLUSTERDOWN", "TRYAGAIN", "NOREPLICAS", "MOVED", "ASK",
)


class StoreUnavailable(Exception):
    """Redis could not be reached or did not respond in time.

    `node` is the Redis node's host:port, or "" when the error does not name
    one. `timed_out` is true when Redis did not reply in time.
    """

    def __init__(self, message: str, node: str = "", *, timed_out: bool = False):
        super().__init__(message)
        self.node = node
        self.timed_out = timed_out


class ClusterModeMismatch(StoreUnavailable):
    """Redis replied as a Redis Cluster node to a one-server client, or as one server to a cluster client."""


class NotFound(Exception):
    """The account or key does not exist."""


class AlreadyExists(Exception):
    """The account already exists."""


class KeyNotActive(Exception):
    """The key is revoked or expired, so it cannot be rolled."""


def account_key(account_id: str) -> str:
    return f"dfg:{{{account_id}}}:account"


def key_record(account_id: str, key_id: str) -> str:
    return f"dfg:{{{account_id}}}:key:{key_id}"


def keys_set(account_id: str) -> str:
    return f"dfg:{{{account_id}}}:keys"


def usage_key(account_id: str) -> str:
    return f"dfg:{{{account_id}}}:usage"


def burst_key(account_id: str) -> str:
    return f"dfg:{{{account_id}}}:burst"


def idempotency_key(account_id: str, key_digest: str) -> str:
    return f"dfg:{{{account_id}}}:idem:{key_digest}"


def check_record(account_id: str, check_id: str) -> str:
    return f"dfg:{{{account_id}}}:check:{check_id}"


def refund_marker(account_id: str, charge_id: str) -> str:
    return f"dfg:{{{account_id}}}:refund:{charge_id}"


def hash_index(key_digest: str) -> str:
    return f"dfg:keyhash:{key_digest}"


def id_index(key_id: str) -> str:
    return f"dfg:keyid:{key_id}"


ACCOUNTS = "dfg:accounts"


def rfc3339(seconds: float | str | None) -> str:
    """Formats unix seconds as RFC 3339 UTC; empty for None or ""."""
    if seconds in (None, ""):
        return ""
    return dt.datetime.fromtimestamp(int(float(seconds)), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# Instants the admin API accepts: RFC 3339 years 1970..9999 in UTC.
FIRST_INSTANT = 0
LAST_INSTANT = int(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc).timestamp())


def _script(name: str) -> str:
    return (LUA / "window.lua").read_text() + "\n" + (LUA / name).read_text()


@dataclasses.dataclass
class Decision:
    """Outcome of the metering script for one request."""

    status: int
    reason: str
    tier: str
    quota: int | None
    used: int
    window_start: int
    window_end: int
    burst: int
    burst_used: int
    retry_after_ms: int
    replayed: bool
    # What this run charged, set by Store.meter; None when it charged nothing.
    charge: "Charge | None" = None


@dataclasses.dataclass(frozen=True)
class Charge:
    """A call that the metering script charged, with what refund.lua needs to undo exactly that charge."""

    account_id: str
    # Random, one per charge: it names the refund marker.
    charge_id: str
    cost: int
    window_start: int
    window_end: int
    # meter.lua's now (unix seconds): the second whose burst unit it took.
    second: int
    # "-" without an Idempotency-Key, as in Store.meter.
    idempotency_digest: str
    # The record that the charge wrote ("fingerprint#0"), or "" when it wrote none.
    idempotency_record: str
    check_id: str | None


def charge_in_reply(
    reply, account_id: str, cost: int, now_ms: int, idempotency: tuple[str, str] | None, check_id: str | None,
    charge_id: str,
) -> Charge | None:
    """Return the charge that a reply of meter.lua shows, or None when the script charged nothing.

    The other arguments are those of the Store.meter call that sent the
    script, charge_id included. A denial, a script past its deadline, a free replay of an
    Idempotency-Key, Envoy's repeat of a Check (RETRY) and a call that costs
    0 charge nothing. An error reply or one of another shape returns None.
    """
    if not isinstance(reply, list) or len(reply) != 12 or cost <= 0:
        return None
    decision, recorded = read_meter_reply(reply)
    if decision.status != 200 or decision.reason != "OK" or decision.replayed:
        return None
    idem_digest, fingerprint = idempotency or ("-", "")
    return Charge(
        account_id=account_id,
        charge_id=charge_id,
        cost=cost,
        window_start=decision.window_start,
        window_end=decision.window_end,
        second=now_ms // 1000,
        idempotency_digest=idem_digest,
        idempotency_record=f"{fingerprint}#0" if recorded else "",
        check_id=check_id,
    )


def check_record_value(charge: Charge) -> str:
    """Return the check record that meter.lua wrote for a charge with a check id, as refund.lua compares it."""
    idempotency = idempotency_key(charge.account_id, charge.idempotency_digest) if charge.idempotency_record else "-"
    fields = (charge.charge_id, charge.cost, charge.window_start, charge.window_end, charge.second, idempotency)
    return " ".join(str(field) for field in fields)


def read_meter_reply(reply) -> tuple[Decision, bool]:
    """Read meter.lua's 12-field reply: the decision, and whether it wrote an idempotency record."""
    status, reason, tier, quota, used, start, end, burst, burst_used, retry_ms, replayed, recorded = reply
    decision = Decision(
        status=int(status),
        reason=reason,
        tier=tier,
        quota=None if int(quota) < 0 else int(quota),
        used=int(used),
        window_start=int(start),
        window_end=int(end),
        burst=int(burst),
        burst_used=int(burst_used),
        retry_after_ms=int(retry_ms),
        replayed=bool(int(replayed)),
    )
    return decision, bool(int(recorded))


@dataclasses.dataclass
class AccountUpdate:
    """Outcome of one account change."""

    applied: bool
    created: bool
    revoked_keys: int
    account: dict[str, str]


@dataclasses.dataclass
class UsageState:
    """An account's quota window and use, read without charging."""

    window_start: int
    window_end: int
    used: int


@dataclasses.dataclass
class NodeClock:
    """Redis's clock minus this machine's on one Redis node, in milliseconds, and its error bound."""

    offset_ms: float
    error_ms: float
    synced_at: float


class Store:
    """Async access to the gateway's Redis data, on one server or, with cluster=True, on a Redis Cluster."""

    def __init__(self, url: str, timeout_seconds: float = 0.5, cache_size: int = 100_000, *, cluster: bool = False):
        self.cluster = cluster
        self.redis = redis_client.connect(
            url,
            cluster,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            decode_responses=True,
            max_connections=512,
            health_check_interval=0,
        )
        self._meter = Script(_script("meter.lua"))
        self._refund = Script((LUA / "refund.lua").read_text())
        # The hot path (key lookup and metering) pipelines concurrent calls
        # on one connection per Redis server or cluster primary. TLS
        # (rediss://) uses redis-py.
        self.fast: PipelinedRedis | ClusterPipelinedRedis | None = None
        if url.startswith("redis://"):
            try:
                self.fast = ClusterPipelinedRedis(url, timeout_seconds) if cluster else PipelinedRedis(url, timeout_seconds)
            except ValueError as error:
                raise ConfigError(f"REDIS_URL is invalid: {error}") from None
        self._usage = Script(_script("usage.lua"))
        self._update = Script((LUA / "update_account.lua").read_text())
        self._create = Script((LUA / "create_account.lua").read_text())
        self._cache: collections.OrderedDict[str, tuple[str, str]] = collections.OrderedDict()
        self._cache_size = cache_size
        self._unknown: dict[str, float] = {}
        self.timeout_seconds = timeout_seconds
        # By node name ("" for one server): each node of a cluster has its own clock.
        self._clocks: dict[str, NodeClock] = {}
        self.deadline_margin = min(DEADLINE_MARGIN_SECONDS, timeout_seconds / 4)

    async def close(self) -> None:
        if self.fast is not None:
            await self.fast.close()
        await self.redis.aclose()

    async def ping(self) -> None:
        await self._call(self.redis.ping())

    # --- hot path ---------------------------------------------------------

    async def find_key(self, key_digest: str) -> tuple[str, str] | None:
        """Returns (account_id, key_id) for a key hash, from the cache when possible."""
        cached = self._cache.get(key_digest)
        if cached is not None:
            return cached
        unknown_until = self._unknown.get(key_digest)
        if unknown_until is not None and unknown_until > time.monotonic():
            return None

        index = hash_index(key_digest)
        value = await self._call(self.fast.execute("GET", index, key=index) if self.fast else self.redis.get(index))
        if value is None:
            # An unknown hash is remembered briefly so that a flood of made-up
            # keys costs one Redis call each per second, not one per request.
            if len(self._unknown) > self._cache_size:
                self._unknown.clear()
            self._unknown[key_digest] = time.monotonic() + 1.0
            return None

        account_id, key_id = value.split(" ", 1)
        self._cache[key_digest] = (account_id, key_id)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return account_id, key_id

    async def redis_clock(self, route_key: str) -> NodeClock:
        """Returns the clock offset of the Redis node that serves route_key, measured every few seconds.

        The offset comes from the midpoint of one TIME round trip, so it is
        off by at most half the round trip. That bound is kept in error_ms
        and taken off every deadline.
        """
        node = self._node_name(route_key)
        clock = self._clocks.get(node) if node is not None else None
        if clock is not None and time.monotonic() - clock.synced_at < CLOCK_SYNC_SECONDS:
            return clock
        before = time.time()
        node, (seconds, microseconds) = await self._call(self._node_time(route_key))
        after = time.time()
        rtt = after - before
        clock = self._clocks.get(node)
        if clock is None or rtt <= CLOCK_SAMPLE_MAX_RTT_SECONDS or rtt / 2 * 1000 < clock.error_ms:
            offset_ms = int(seconds) * 1000 + int(microseconds) / 1000 - (before + after) * 500
            clock = self._clocks[node] = NodeClock(offset_ms, rtt / 2 * 1000, time.monotonic())
        else:
            clock.synced_at = time.monotonic()
        return clock

    def address_of(self, route_key: str) -> str:
        """Returns the host:port of the Redis node that serves route_key, for logs; "" when it is not known yet."""
        if self.fast is not None:
            return self.fast.address_of(route_key)
        if self.cluster:
            return self._node_name(route_key) or ""
        options = self.redis.connection_pool.connection_kwargs
        return f"{options.get('host', '')}:{options.get('port', '')}"

    async def memory_by_node(self) -> dict[str, tuple[int, int]]:
        """Returns (used_memory, maxmemory) in bytes from INFO memory, by host:port of each primary.

        maxmemory is 0 when Redis has no limit. Uses redis-py's connections,
        not the hot path's. Raises StoreUnavailable.
        """
        if self.cluster:
            replies = await self._call(self.redis.info("memory", target_nodes=self.redis.PRIMARIES))
        else:
            replies = {self.address_of(""): await self._call(self.redis.info("memory"))}
        return {node: (int(info["used_memory"]), int(info.get("maxmemory", 0))) for node, info in replies.items()}

    def _node_name(self, route_key: str) -> str | None:
        """Returns the name of the node that serves the key: "" for one server, None while the slot map is unknown."""
        if self.fast is not None:
            return self.fast.node_of(route_key)
        if not self.cluster:
            return ""
        try:
            return self.redis.get_node_from_key(route_key).name
        except SlotNotCoveredError:
            return None

    async def _node_time(self, route_key: str) -> tuple[str, tuple]:
        """Returns the name of the node that serves the key and its TIME reply (seconds, microseconds)."""
        if self.fast is not None:
            # TIME has no key, so the key only picks the node.
            reply = await self.fast.execute("TIME", key=route_key)
            return self.fast.node_of(route_key) or "", reply
        if not self.cluster:
            return "", await self.redis.time()
        # TIME has no key, so it goes to the node named here. A cluster
        # client that has not read the slot map yet reads it first.
        await self.redis.initialize()
        node = self.redis.get_node_from_key(route_key)
        return node.name, await self.redis.execute_command("TIME", target_nodes=node)

    async def meter(
        self,
        account_id: str,
        key_id: str,
        cost: int,
        tier_table: str,
        idempotency: tuple[str, str] | None,
        now_ms: int | None = None,
        *,
        free: bool = False,
        deadline: float | None = None,
        check_id: str | None = None,
        on_late_charge: Callable[[Charge], None] | None = None,
    ) -> Decision:
        """Checks key, account, tier, quota and burst and charges, all in one script run.

        The returned decision's `charge` describes what the run charged, so
        that the charge can be refunded later; it is None when nothing was.

        `deadline` (unix seconds, this machine's clock) is the latest time at
        which the script may still charge. The Redis timeout caps it as well,
        so a script that Redis runs after the gateway gave up changes nothing.

        `check_id` is the same for every attempt of one Envoy request's Check.
        The first admitted attempt charges and records it, with the charge's
        id and what it took, for CHECK_RECORD_TTL_MS; a later attempt with
        the same id is admitted with reason "RETRY" and charges nothing.
        None records nothing.

        Redis may run the script in time and stall before its reply goes
        out, so this call raises StoreUnavailable (or is cancelled) although
        the script charged. When the reply of such a charge still arrives,
        `on_late_charge` gets the Charge, in a later turn of the event loop,
        so that the caller can refund it with `refund`.
        """
        idem_digest, fingerprint = idempotency or ("-", "")
        keys = [
            account_key(account_id),
            key_record(account_id, key_id),
            usage_key(account_id),
            burst_key(account_id),
            idempotency_key(account_id, idem_digest),
            check_record(account_id, check_id or "-"),
        ]
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        redis_deadline_ms = await self._redis_deadline_ms(keys[0], deadline)
        charge_id = uuid.uuid4().hex
        args = [
            now_ms, cost, tier_table, fingerprint, IDEMPOTENCY_TTL_MS, redis_deadline_ms, "1" if free else "", FREE_REPLAYS,
            CHECK_RECORD_TTL_MS if check_id else "", charge_id,
        ]
        if self.fast is not None:
            on_late_reply = None
            if on_late_charge is not None:
                def on_late_reply(reply):
                    charge = charge_in_reply(reply, account_id, cost, now_ms, idempotency, check_id, charge_id)
                    if charge is not None:
                        on_late_charge(charge)
            run = self.fast.run_script(self._meter, keys, args, on_late_reply)
        else:
            # NOTE: redis-py closes the connection of a command that timed
            # out or was cancelled, so on this path (rediss:// URLs) a late
            # reply is never read and a charge that it shows stays charged.
            run = self._meter.run(self.redis, keys, args)
        reply = await self._call(run)
        decision, _recorded = read_meter_reply(reply)
        if decision.reason == "DEADLINE_EXCEEDED":
            raise StoreUnavailable(
                "Redis ran the metering script after its deadline; nothing was charged",
                self.address_of(keys[0]), timed_out=True,
            )
        decision.charge = charge_in_reply(reply, account_id, cost, now_ms, idempotency, check_id, charge_id)
        return decision

    async def refund(
        self, charge: Charge, now_ms: int | None = None, on_late_outcome: Callable[[object], None] | None = None
    ) -> str:
        """Undoes one charge of the metering script with refund.lua; raises StoreUnavailable.

        After a run that refunds, a marker keyed by charge.charge_id makes every later run change nothing.

        Returns the script's outcome: REFUNDED, ALREADY_REFUNDED,
        CHARGE_MISMATCH, WINDOW_ENDED or USED_SINCE (see refund.lua).
        `now_ms` is unix milliseconds on the clock that meter() uses.

        The script carries a deadline, as meter() does, so a script that
        Redis runs after this call gave up changes nothing; a script past it
        raises StoreUnavailable. Redis may still run the script in time and
        stall before its reply goes out: when that reply arrives, on the
        pipelined client only, `on_late_outcome` gets it.
        """
        account_id = charge.account_id
        keys = [
            usage_key(account_id),
            burst_key(account_id),
            idempotency_key(account_id, charge.idempotency_digest),
            check_record(account_id, charge.check_id or "-"),
            refund_marker(account_id, charge.charge_id),
        ]
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        redis_deadline_ms = await self._redis_deadline_ms(keys[0])
        args = [
            charge.cost, charge.window_start, charge.window_end, now_ms, charge.second, charge.idempotency_record,
            check_record_value(charge) if charge.check_id else "", REFUND_MARKER_TTL_MS, redis_deadline_ms,
        ]
        if self.fast is not None:
            run = self.fast.run_script(self._refund, keys, args, on_late_outcome)
        else:
            run = self._refund.run(self.redis, keys, args)
        outcome = await self._call(run)
        if outcome == "DEADLINE_EXCEEDED":
            raise StoreUnavailable(
                "Redis ran the refund script after its deadline; nothing was refunded",
                self.address_of(keys[0]), timed_out=True,
            )
        return outcome

    async def _redis_deadline_ms(self, route_key: str, deadline: float | None = None) -> int:
        """Return the latest time, in the Redis node's clock (unix ms), at which a script may still write.

        `deadline` is unix seconds on this machine's clock. The Redis timeout
        less deadline_margin caps it, so that a script that starts in time
        replies before this client stops waiting.
        """
        clock = await self.redis_clock(route_key)
        latest = time.time() + self.timeout_seconds - self.deadline_margin
        deadline = latest if deadline is None else min(deadline, latest)
        return int(deadline * 1000 + clock.offset_ms - clock.error_ms)

    # --- accounts ---------------------------------------------------------

    async def usage(self, account_id: str, now: int | None = None) -> UsageState:
        """Returns the account's current window and use; raises NotFound."""
        now = int(time.time()) if now is None else now
        found, start, end, used = await self._call(
            self._usage.run(self.redis, [account_key(account_id), usage_key(account_id)], [now])
        )
        if not int(found):
            raise NotFound(account_id)
        return UsageState(int(start), int(end), int(used))

    async def create_account(self, account_id: str, mode: str, tier: str) -> dict[str, str]:
        """Creates an active account without a billing period; raises AlreadyExists.

        The version starts at 0, so the first billing event applies whatever
        its time; an operator's later change raises it to that moment.
        """
        fields = {
            "tier": tier,
            "status": "active",
            "mode": mode,
            "anchor_day": 1,
            "anchor_second": 0,
            "period_start": "",
            "period_end": "",
            "created_at": int(time.time()),
            "version": 0,
        }
        pairs = [item for pair in fields.items() for item in pair]
        created = await self._call(self._create.run(self.redis, [account_key(account_id)], pairs))
        if not created:
            raise AlreadyExists(account_id)
        await self._call(self.redis.sadd(ACCOUNTS, account_id))
        return await self.get_account(account_id)

    async def get_account(self, account_id: str) -> dict[str, str]:
        """Returns the account's fields; raises NotFound."""
        fields = await self._call(self.redis.hgetall(account_key(account_id)))
        if not fields or "tier" not in fields:
            raise NotFound(account_id)
        return fields

    async def update_account(
        self,
        account_id: str,
        changes: dict[str, str | int],
        event_time: int | None,
        *,
        create_mode: str | None = None,
        revoke_keys: bool = False,
    ) -> "AccountUpdate":
        """Applies changes under the version rule, in one script run.

        With create_mode, a missing account is created in that mode first;
        without it, a missing account raises NotFound. With revoke_keys,
        every active key of the account is revoked when the change applies.
        """
        pairs: list[str | int] = []
        for name, value in changes.items():
            pairs += [name, value]
        found, applied, _version, created, revoked = await self._call(
            self._update.run(
                self.redis,
                [account_key(account_id), keys_set(account_id)],
                [
                    int(time.time()),
                    "" if event_time is None else event_time,
                    create_mode or "",
                    "1" if revoke_keys else "",
                    key_record(account_id, ""),
                    *pairs,
                ],
            )
        )
        if not int(found):
            raise NotFound(account_id)
        if int(created):
            await self._call(self.redis.sadd(ACCOUNTS, account_id))
        return AccountUpdate(bool(int(applied)), bool(int(created)), int(revoked), await self.get_account(account_id))

    # --- keys -------------------------------------------------------------

    async def create_key(self, account_id: str, name: str, expires_at: int | None) -> tuple[dict[str, str], str]:
        """Issues a key; returns its record and the plaintext, which is not stored."""
        account = await self.get_account(account_id)
        plaintext = apikeys.generate(account["mode"])
        key_id = apikeys.new_key_id()
        record = {
            "key_id": key_id,
            "account_id": account_id,
            "name": name,
            "prefix": apikeys.display_prefix(plaintext),
            "status": "active",
            "created_at": int(time.time()),
            "expires_at": "" if expires_at is None else expires_at,
            "last_used": "",
            "revoked_at": "",
        }
        # The record first and the indexes last, so a key is never findable
        # before its record is complete.
        await self._call(self.redis.hset(key_record(account_id, key_id), mapping=record))
        await self._call(self.redis.sadd(keys_set(account_id), key_id))
        await self._call(self.redis.set(id_index(key_id), account_id))
        await self._call(self.redis.set(hash_index(apikeys.digest(plaintext)), f"{account_id} {key_id}"))
        return await self.get_key(key_id), plaintext

    async def get_key(self, key_id: str) -> dict[str, str]:
        """Returns a key's record (never a secret); raises NotFound."""
        account_id = await self._call(self.redis.get(id_index(key_id)))
        if account_id is None:
            raise NotFound(key_id)
        record = await self._call(self.redis.hgetall(key_record(account_id, key_id)))
        if not record:
            raise NotFound(key_id)
        return record

    async def revoke_key(self, key_id: str) -> dict[str, str]:
        """Revokes a key at once on every gateway replica; the record stays for audit."""
        record = await self.get_key(key_id)
        if record["status"] != "revoked":
            await self._call(
                self.redis.hset(
                    key_record(record["account_id"], key_id),
                    mapping={"status": "revoked", "revoked_at": int(time.time())},
                )
            )
        return await self.get_key(key_id)

    async def roll_key(self, key_id: str, grace_seconds: int) -> tuple[dict[str, str], str, dict[str, str]]:
        """Issues a replacement key and makes the old one expire after the grace period."""
        old = await self.get_key(key_id)
        if old["status"] == "revoked":
            raise KeyNotActive(f"key {key_id} is revoked")
        if old["expires_at"] and int(old["expires_at"]) <= time.time():
            raise KeyNotActive(f"key {key_id} has expired")
        new, plaintext = await self.create_key(
            old["account_id"], old["name"], int(old["expires_at"]) if old["expires_at"] else None
        )
        deadline = int(time.time()) + grace_seconds
        if not old["expires_at"] or int(old["expires_at"]) > deadline:
            await self._call(self.redis.hset(key_record(old["account_id"], key_id), "expires_at", deadline))
        return new, plaintext, await self.get_key(key_id)

    async def list_keys(self, account_id: str) -> list[dict[str, str]]:
        """Returns every key record of the account, oldest first."""
        await self.get_account(account_id)
        key_ids = await self._call(self.redis.smembers(keys_set(account_id)))
        records = []
        for key_id in key_ids:
            record = await self._call(self.redis.hgetall(key_record(account_id, key_id)))
            if record:
                records.append(record)
        return sorted(records, key=lambda r: (int(r["created_at"]), r["key_id"]))

    async def _call(self, awaitable):
        """Awaits one Redis operation, raising StoreUnavailable when Redis cannot serve it now."""
        try:
            return await awaitable
        except PipelineError as error:
            if self.cluster and "cluster support disabled" in str(error):
                raise ClusterModeMismatch(NOT_A_CLUSTER, error.node) from None
            raise StoreUnavailable(str(error), error.node, timed_out=error.timed_out) from None
        except ScriptError as error:
            if not self.cluster and str(error).startswith("MOVED"):
                raise ClusterModeMismatch(A_CLUSTER_NODE, error.node) from None
            if str(error).startswith(UNAVAILABLE_REPLIES):
                raise StoreUnavailable(str(error), error.node) from None
            raise
        except MovedError:
            # A cluster client follows MOVED itself, so only a one-server client gets here.
            raise ClusterModeMismatch(A_CLUSTER_NODE) from None
        except UNAVAILABLE_ERRORS as error:
            timed_out = isinstance(error, RedisTimeoutError)
            raise StoreUnavailable(str(error) or type(error).__name__, timed_out=timed_out) from None
        except RedisClusterException as error:
            if "not enabled" in str(error):
                raise ClusterModeMismatch(NOT_A_CLUSTER) from None
            raise


A_CLUSTER_NODE = (
    "REDIS_CLUSTER is false or unset, but Redis replied MOVED, so REDIS_URL names a node of a Redis Cluster; "
    "set REDIS_CLUSTER=true on the gateway and restart it"
)
NOT_A_CLUSTER = (
    "REDIS_CLUSTER=true, but the Redis server is not in cluster mode; set REDIS_CLUSTER=false on the gateway, "
    "or point REDIS_URL at a node of the Redis Cluster, and restart it"
)
