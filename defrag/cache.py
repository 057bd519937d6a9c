"""Build the derived arrays and compiled code ahead of time: `python -m defrag.cache`.

The services build them on first use anyway. Running this once at
installation (the Makefile does) keeps the first request fast and lets a
read-only deployment ship them. The arrays go to the cache folder
(DEFRAG_CACHE_DIR, default build/cache), and Numba's machine code for
defrag.reductions goes to __pycache__ (or NUMBA_CACHE_DIR).
"""

import numpy as np

from defrag import chart, ephemeris, sky


def main() -> None:
    ephemeris.kernel()
    chart.nutation_correction()
    # One chart and one batch compile every Numba function for the argument types the services use.
    for count in (1, 2):
        sky.compute_charts(np.full(count, 2451545.0), "utc", sky.Observer(0.0, 0.0), sky.Options())
    print(f"cache ready in {ephemeris.cache_folder()}")


if __name__ == "__main__":
    main()
