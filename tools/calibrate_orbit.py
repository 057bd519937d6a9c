"""Print the distribution of orbit friction over random pairs of births, the basis of the thresholds.

Draws births uniformly from 1940-01-01 to 2015-01-01 (UTC) at uniform
latitudes -45..60 and longitudes -125..150 (where most people live), all
with a known time, and prints percentiles of friction over random pairs.
geometry.HIGH_FRICTION is about the 85th percentile and MODERATE_FRICTION
the median; docs/orbit-method.md records the run.

Usage: python tools/calibrate_orbit.py [--pairs N] [--seed S]
"""

import argparse
import datetime as dt
import pathlib
import random
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from defrag import sky  # noqa: E402
from services.orbit import geometry  # noqa: E402

PEOPLE = 400
FIRST_BIRTH = dt.datetime(1940, 1, 1)
SPAN_DAYS = 75 * 365.25


def random_natal(rng: random.Random, name: str) -> geometry.Natal:
    birth = FIRST_BIRTH + dt.timedelta(days=rng.uniform(0, SPAN_DAYS))
    observer = sky.Observer(rng.uniform(-45, 60), rng.uniform(-125, 150))
    charts = sky.compute_charts(np.array([sky.julian_date(birth)]), "utc", observer, sky.Options())
    return geometry.Natal(
        name, "other", True, geometry.POINTS,
        np.concatenate([charts.longitude[0], charts.angles[0, :2]]),
        np.concatenate([charts.speed[0], [0.0, 0.0]]),
        np.zeros(len(geometry.POINTS)),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20261205)
    arguments = parser.parse_args()

    rng = random.Random(arguments.seed)
    people = [random_natal(rng, f"p{index}") for index in range(PEOPLE)]
    friction = np.array([geometry.pair_geometry(*rng.sample(people, 2)).friction for _ in range(arguments.pairs)])
    print(f"{arguments.pairs} random pairs of {PEOPLE} births, seed {arguments.seed}, {geometry.MODEL_VERSION}")
    for percentile in (10, 25, 50, 75, 85, 90, 95, 99):
        print(f"  p{percentile:<3} {np.percentile(friction, percentile):.3f}")
    for name, threshold in (("moderate", geometry.MODERATE_FRICTION), ("high", geometry.HIGH_FRICTION)):
        print(f"  share at or above {name} ({threshold:.2f}): {np.mean(friction >= threshold):.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
