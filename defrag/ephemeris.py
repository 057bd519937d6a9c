"""The JPL DE423 ephemeris: Chebyshev coefficients, memory-mapped and shared between worker processes.

The `de423` package ships JPL's coefficients as one NumPy array per body,
each with its own interval length and number of coefficients. So that
defrag.reductions can evaluate every body of a chart in one compiled loop,
they are padded to a common
number of coefficients and written into one file in the cache folder. Every
worker process memory-maps that file, so the operating system keeps one copy
in its page cache for all of them. `python -m defrag.cache` builds the files
ahead of time, and otherwise the first process to need one builds it.

Units: kilometres and kilometres per day, TDB Julian dates. The Moon's
segment is geocentric, and every other segment is relative to the solar
system barycentre. The planets' segments are their system barycentres: for
Jupiter and Saturn a few hundred kilometres from the planet's centre, for
Pluto about 2,100 km (because of Charon). Each offset is about 0.1
arcsecond or less as seen from the Earth.
"""

import dataclasses
import functools
import os
import pathlib
import tempfile
from collections.abc import Callable

import de423
import numpy as np

from defrag.platform.config import ROOT, env_str

KERNEL = "DE423"
KERNEL_PACKAGE_VERSION = "2010.1"

# Segment names in the de423 package, in the order of the combined file.
SEGMENTS = ("sun", "mercury", "venus", "earthmoon", "mars", "jupiter", "saturn", "uranus", "neptune", "pluto", "moon")
SEGMENT_INDEX = {name: index for index, name in enumerate(SEGMENTS)}

_PACKAGE_DIR = pathlib.Path(de423.__file__).parent
_FORMAT_VERSION = 1


class OutsideEphemeris(ValueError):
    """A TDB Julian date outside the span that the kernel covers."""


@dataclasses.dataclass(frozen=True, eq=False)
class Kernel:
    """The combined coefficient table with the per-segment values that index it."""

    coefficients: np.ndarray  # (rows, 3, COEFFICIENTS), memory-mapped
    first_row: np.ndarray  # per segment, its first row in `coefficients`
    row_count: np.ndarray  # per segment
    days_per_row: np.ndarray  # per segment
    start_jd: float
    end_jd: float
    au_km: float
    earth_moon_mass_ratio: float
    light_speed_km_per_day: float

    @property
    def earth_share(self) -> float:
        """The Earth's distance from the Earth-Moon barycentre, as a fraction of the Earth-Moon distance."""
        return 1.0 / (1.0 + self.earth_moon_mass_ratio)

    def check_span(self, jd_tdb: np.ndarray, margin_days: float = 0.0) -> None:
        """Raise OutsideEphemeris unless every date, widened by the margin on both sides, lies inside the kernel."""
        if jd_tdb.min() - margin_days < self.start_jd or jd_tdb.max() + margin_days > self.end_jd:
            raise OutsideEphemeris(
                f"TDB Julian dates {jd_tdb.min()}..{jd_tdb.max()} (widened by {margin_days} days) fall outside "
                f"the {KERNEL} kernel, which covers {self.start_jd} to {self.end_jd}: send dates inside that span"
            )


COEFFICIENTS = 14


@functools.cache
def kernel() -> Kernel:
    """Load the combined kernel, building its file first when it is missing."""
    constants = _constants()
    sets = {name: np.load(_PACKAGE_DIR / f"jpl-{name}.npy", mmap_mode="r") for name in SEGMENTS}
    row_count = np.array([sets[name].shape[0] for name in SEGMENTS], dtype=np.intp)
    first_row = np.concatenate([[0], np.cumsum(row_count)[:-1]]).astype(np.intp)
    span = constants["jomega"] - constants["jalpha"]

    name = f"de423-combined-v{_FORMAT_VERSION}"
    coefficients = cached_array(name, _combined_coefficients)
    if coefficients.shape != (int(row_count.sum()), 3, COEFFICIENTS):
        raise RuntimeError(
            f"{cache_folder() / name}.npy has shape {coefficients.shape}, which does not match the de423 package: "
            "delete it so that the next start rebuilds it"
        )
    return Kernel(
        coefficients=coefficients,
        first_row=first_row,
        row_count=row_count,
        days_per_row=span / row_count.astype(float),
        start_jd=float(constants["jalpha"]),
        end_jd=float(constants["jomega"]),
        au_km=float(constants["AU"]),
        earth_moon_mass_ratio=float(constants["EMRAT"]),
        light_speed_km_per_day=float(constants["CLIGHT"]) * 86400.0,
    )


def cache_folder() -> pathlib.Path:
    """Return the folder of derived arrays: DEFRAG_CACHE_DIR, or build/cache in the checkout."""
    return pathlib.Path(env_str("DEFRAG_CACHE_DIR", str(ROOT / "build" / "cache")))


def cached_array(name: str, builder: Callable[[], np.ndarray]) -> np.ndarray:
    """Memory-map a derived array from the cache folder, building and saving it first when missing.

    The file is written under a temporary name and renamed, so processes
    that build it at the same time cannot leave a torn file.
    """
    path = cache_folder() / f"{name}.npy"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".npy.tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                np.save(out, builder())
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    # A plain ndarray view of the memory map indexes faster than np.memmap.
    return np.load(path, mmap_mode="r").view(np.ndarray)


def _combined_coefficients() -> np.ndarray:
    """Pad every segment's coefficients to COEFFICIENTS and stack them in the order of SEGMENTS."""
    parts = []
    for name in SEGMENTS:
        segment = np.load(_PACKAGE_DIR / f"jpl-{name}.npy")
        padded = np.zeros((segment.shape[0], 3, COEFFICIENTS))
        padded[:, :, : segment.shape[2]] = segment
        parts.append(padded)
    return np.concatenate(parts)


def _constants() -> dict[str, float]:
    return {key.decode("ascii"): float(value) for key, value in np.load(_PACKAGE_DIR / "constants.npy")}


