"""The gRPC services, one package each, run by `python -m services.<name>` or the `defrag-<name>` command."""

from defrag.platform import numba_cache

# Before any service module defines a Numba function: with a read-only root
# filesystem, Numba needs the image's compiled code copied to a writable folder first.
numba_cache.seed()
