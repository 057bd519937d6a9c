"""The redis-py errors that mean Redis cannot serve now, as opposed to a bug in a command or script."""

from redis import exceptions

# Refused or dropped connections, timeouts, and a server still loading its
# data after a restart. A Redis Cluster client adds its own:
#   ClusterError                  CLUSTERDOWN and MASTERDOWN replies, and
#                                 "TTL exhausted" after 16 MOVED, ASK or
#                                 TRYAGAIN redirects of one command
#   TryAgainError                 TRYAGAIN: a multi-key command during a slot
#                                 migration
#   SlotNotCoveredError           no node serves the key's slot
#   RedisClusterUnreachableError  no node replied to the slot map refresh
# The last two derive from RedisClusterException, not from RedisError.
UNAVAILABLE_ERRORS = (
    exceptions.ConnectionError,
    exceptions.TimeoutError,
    exceptions.BusyLoadingError,
    exceptions.ClusterError,
    exceptions.TryAgainError,
    exceptions.SlotNotCoveredError,
    exceptions.RedisClusterUnreachableError,
    OSError,
)
