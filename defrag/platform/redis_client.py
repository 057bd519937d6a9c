"""Redis clients for the services: one Redis server, or a Redis Cluster when REDIS_CLUSTER is true.

Every service that reads REDIS_URL makes its clients here, so the gateway,
billing and SEDA choose between the two kinds in one place. A cluster client
starts from the node in the URL, reads the slot map with CLUSTER SLOTS and
sends each command to the primary that serves its key's slot. It follows
MOVED and ASK redirects and refreshes the slot map after connection errors.

Commands and scripts of the services touch one slot each: every multi-key
script takes keys with one hash tag ({account_id} or {customer_id}).
"""

import hashlib
import logging
import os
import urllib.parse

import redis.asyncio as aioredis
from redis import exceptions
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from defrag.platform.config import ConfigError

CLUSTER_SETTING = "REDIS_CLUSTER"
CLUSTER_VALUES = {"true": True, "false": False}
# How long the start-up check of the server's cluster mode waits for Redis.
MODE_CHECK_TIMEOUT_SECONDS = 2.0

log = logging.getLogger("redis_client")


def cluster_enabled() -> bool:
    """Read REDIS_CLUSTER: true for Redis Cluster, false or unset for one server; raise ConfigError otherwise."""
    raw = os.environ.get(CLUSTER_SETTING, "")
    value = raw.strip().lower()
    if not value:
        return False
    if value not in CLUSTER_VALUES:
        raise ConfigError(
            f"{CLUSTER_SETTING}={raw[:40]!r} is invalid: set true (REDIS_URL names a node of a Redis Cluster) "
            "or false (one Redis server, the default)"
        )
    return CLUSTER_VALUES[value]


class _ClusterClient(RedisCluster):
    """A cluster client that retries a command after a connection error or CLUSTERDOWN, but not after a timeout.

    A command that timed out may have run. Running it again could write
    twice (an audit record, a lock) and would double the caller's wait.
    """

    # NOTE: redis-py 8.2 reads this class attribute to decide which errors of
    # a command it retries; the value is the library's own minus TimeoutError.
    ERRORS_ALLOW_RETRY = (exceptions.ConnectionError, exceptions.ClusterDownError, exceptions.SlotNotCoveredError)


def connect(url: str, cluster: bool, *, retries: int = 1, **options):
    """Make an asyncio client for the URL: a Redis Cluster client when cluster is true, else a one-server client.

    `options` are redis-py connection options (timeouts, decode_responses,
    max_connections, which a cluster client applies per node). A cluster
    client retries a command that failed with a connection error or
    CLUSTERDOWN `retries` times, at once, after refreshing its slot map. A
    one-server client keeps the `retry` option that the caller passes, or
    redis-py's default.

    Raises ConfigError when the URL cannot name a Redis or a cluster node.
    The message never contains the URL, which may contain a password.
    """
    check_url(url)
    try:
        if not cluster:
            return aioredis.Redis.from_url(url, **options)
        options.pop("retry", None)
        return _ClusterClient.from_url(url, retry=Retry(NoBackoff(), retries), **options)
    except exceptions.RedisClusterException as error:
        raise ConfigError(
            f"REDIS_URL cannot name a Redis Cluster node: {error}; use redis://host:port or rediss://host:port "
            "without a database number, or set REDIS_CLUSTER=false for one Redis server"
        ) from None
    except ValueError as error:
        raise ConfigError(f"REDIS_URL is invalid: {error}; use redis://host:port or rediss://host:port") from None


def check_url(url: str) -> None:
    """Raise ConfigError when a redis:// or rediss:// URL has a port or a database number that is not a number.

    redis-py ignores a path that is not a number, so redis://host:6379/abc
    would use database 0 without a word. The message never contains the URL.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        return
    try:
        parts.port
    except ValueError:
        raise ConfigError("REDIS_URL has an invalid port; use redis://host:port with a port from 1 to 65535") from None
    database = urllib.parse.unquote(parts.path).strip("/")
    if database and not (database.isascii() and database.isdigit()):
        raise ConfigError(
            "REDIS_URL has an invalid database number in its path (not a number); "
            "use redis://host:port or redis://host:port/N, where N is a number such as 0"
        )


async def check_server_mode(url: str, cluster: bool, timeout: float = MODE_CHECK_TIMEOUT_SECONDS) -> None:
    """Ask the server at the URL whether it runs in cluster mode, and raise ConfigError when REDIS_CLUSTER disagrees.

    Reads cluster_enabled from INFO cluster on the URL's node alone. When
    Redis cannot be reached or refuses INFO, the check logs a warning and
    returns, so a service still starts before its Redis does (its calls fail
    until Redis is up). Redis rejecting the URL's credentials is a
    ConfigError too: it will not pass later, so the process should not
    start and report healthy. The messages never contain the URL.
    """
    client = aioredis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        info = await client.info("cluster")
    except exceptions.AuthenticationError as error:
        # A subclass of ConnectionError: a wrong password (WRONGPASS), none
        # where Redis requires one (NOAUTH), or one where Redis has none.
        raise ConfigError(
            f"Redis rejected the credentials in REDIS_URL ({type(error).__name__}: {str(error)[:120]}); "
            "put the password that Redis requires in the URL (redis://:PASSWORD@host:port/0), "
            "or none if Redis has no password"
        ) from None
    except (exceptions.RedisError, OSError) as error:
        log.warning(
            "skipped the check that REDIS_CLUSTER matches the Redis server, because Redis did not reply to INFO; "
            "calls that need Redis fail until it is up",
            extra={"error": f"{type(error).__name__}: {str(error)[:200]}"},
        )
        return
    finally:
        await client.aclose()
    server_cluster = str(info.get("cluster_enabled", "0")) == "1"
    if server_cluster == cluster:
        return
    if server_cluster:
        raise ConfigError(
            f"{CLUSTER_SETTING} is false or unset, but REDIS_URL names a node of a Redis Cluster "
            f"(INFO cluster reports cluster_enabled:1); set {CLUSTER_SETTING}=true"
        )
    raise ConfigError(
        f"{CLUSTER_SETTING}=true, but REDIS_URL names a Redis server that is not in cluster mode "
        f"(INFO cluster reports cluster_enabled:0); set {CLUSTER_SETTING}=false, or point REDIS_URL at a node "
        "of the Redis Cluster"
    )


class Script:
    """A Lua script's source and SHA-1, computed once, that runs on one server or on a cluster's primaries."""

    def __init__(self, source: str):
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def run(self, client, keys: list[str], args: list):
        """Run the script by its SHA-1, or by its source on the node that does not have it yet.

        EVAL caches the script on the node that runs it, so after a node
        restarts or a slot moves to a new primary only that node gets the
        source, and a primary that is down does not stop the others.
        """
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except exceptions.NoScriptError:
            return await client.eval(self.source, len(keys), *keys, *args)
