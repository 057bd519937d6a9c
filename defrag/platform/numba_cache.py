"""Copies the Numba cache that the container image ships into the writable NUMBA_CACHE_DIR.

Numba loads a cached function only from a folder that it can write to (it
checks by creating a temporary file there), and without such a folder
`@njit(cache=True)` raises at import. The image's root filesystem is
read-only, so its build compiles the position engine and the zone lookup
into DEFRAG_NUMBA_SEED_DIR, and NUMBA_CACHE_DIR points at /tmp.
services/__init__.py calls seed() before any service module defines a
compiled function. Numba keys each file by its source file's path,
modification time and size, and by the CPU name, so the image sets
NUMBA_CPU_NAME=generic at build and at run time. A function whose file
is missing or stale is compiled at first use, as without a seed.
"""

import logging
import os
import pathlib
import shutil
import tempfile

log = logging.getLogger("defrag.numba_cache")


def seed() -> int:
    """Copies each file of DEFRAG_NUMBA_SEED_DIR that NUMBA_CACHE_DIR lacks; returns how many it copied.

    Does nothing unless both variables are set. A failure is logged, not
    raised: Numba then compiles at first use.
    """
    source, target = os.environ.get("DEFRAG_NUMBA_SEED_DIR"), os.environ.get("NUMBA_CACHE_DIR")
    if not source or not target:
        return 0
    source_folder, target_folder = pathlib.Path(source), pathlib.Path(target)
    if not source_folder.is_dir():
        log.warning("DEFRAG_NUMBA_SEED_DIR=%s is not a folder; Numba compiles at first use", source)
        return 0

    # Index files (.nbi) last: an index must never name a data file (.nbc) that is not there yet.
    files = sorted((path for path in source_folder.rglob("*") if path.is_file()), key=lambda path: path.suffix == ".nbi")
    copied = 0
    try:
        for path in files:
            destination = target_folder / path.relative_to(source_folder)
            if destination.exists():
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            copy_atomically(path, destination)
            copied += 1
    except OSError as error:
        log.warning("copying the Numba cache from %s to %s failed (%s); Numba compiles at first use", source, target, error)
    return copied


def copy_atomically(source: pathlib.Path, destination: pathlib.Path) -> None:
    """Copies under a temporary name and renames, so a process starting at the same time never reads half a file."""
    handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=".seed-")
    os.close(handle)
    try:
        shutil.copyfile(source, temporary)
        os.replace(temporary, destination)
    except BaseException:
        pathlib.Path(temporary).unlink(missing_ok=True)
        raise
