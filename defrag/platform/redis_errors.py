"""The redis-py errors that mean Redis cannot serve now, as opposed to a bug in a command or script."""

from redis import exceptions

# Refused or dropped connections, timeouts, and a server still loading its
# data after a restart.
UNAVAILABLE_ERRORS = (exceptions.ConnectionError, exceptions.TimeoutError, exceptions.BusyLoadingError, OSError)
