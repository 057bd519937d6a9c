"""Build the derived arrays in the cache folder ahead of time: `python -m defrag.cache`.

The services build them on first use anyway; running this once at
installation (the Makefile does) keeps the first request fast and lets a
read-only deployment ship them.
"""

from defrag import chart, ephemeris


def main() -> None:
    ephemeris.kernel()
    chart.nutation_correction()
    print(f"cache ready in {ephemeris.cache_folder()}")


if __name__ == "__main__":
    main()
