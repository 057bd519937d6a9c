"""The command line of a bench module run on its own (`python -m bench.seda`, `bench.orbit`, `bench.billing`)."""

import argparse
import pathlib
import shutil
import sys
from collections.abc import Callable


def main(
    module: str,
    description: str,
    default_var: pathlib.Path,
    default_seconds: float,
    seconds_help: str,
    measure: Callable[[pathlib.Path, float], object],
    result_lines: Callable[[object], list[str]],
    markdown: Callable[[object], list[str]],
    argv: list[str] | None = None,
) -> int:
    """Parses --seconds and --var, empties the working folder, measures, then prints the result lines and the markdown."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("--seconds", type=float, default=default_seconds, help=f"{seconds_help}, in seconds (default {default_seconds:g})")
    parser.add_argument(
        "--var", type=pathlib.Path, default=default_var,
        help=f"working folder for the processes' data and logs; emptied at the start (default {default_var})",
    )
    arguments = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if arguments.seconds <= 0:
        parser.error("--seconds must be positive")

    shutil.rmtree(arguments.var, ignore_errors=True)
    result = measure(arguments.var, arguments.seconds)
    for line in result_lines(result):
        print(line, flush=True)
    print("\n".join(markdown(result)))
    return 0
