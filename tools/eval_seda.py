"""Evaluate the SEDA scorer on eval/seda/*.jsonl and record the figures in BENCHMARKS.md.

Prints per-band precision and recall and the 4x4 confusion matrix for each split
and for dev and holdout together ("all"). The rules were tuned on dev, holdout
was written before tuning, and redteam and blind2 are blind sets written
without reading the scorer. The targets are checked on "all":

    recall of critical              >= 0.97
    clear texts scored critical      < 2%

The redteam and blind2 splits are left out of "all" and of the exit status, so
adding them does not move the targets. Their figures and misses are printed and
recorded apart.

Exits 1 when a target fails on "all". Rewrites the part of BENCHMARKS.md
between the seda-eval markers unless --no-write is given.

Usage: python tools/eval_seda.py [--no-write]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import pathlib
import platform
import random
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.seda import scorer  # noqa: E402

EVAL_DIR = ROOT / "eval" / "seda"
BENCHMARKS = ROOT / "BENCHMARKS.md"
START_MARKER = "<!-- seda-eval:start -->"
END_MARKER = "<!-- seda-eval:end -->"

BAND_NAMES = tuple(band.name for band in scorer.BANDS)
FAMILIES = frozenset("""
crisis_direct crisis_oblique farewell plan_method preparatory passive_wish psychosis_mania substance
dual_diagnosis distress negation idiom_hyperbole third_person past_resolved lyrics_quotes unicode_lookalike
leetspeak_slang emoji non_english everyday_clear esoteric_clear
""".split())

# Splits that are scored and reported on their own but left out of "all" and the targets.
REPORT_ONLY_SPLITS = frozenset({"redteam", "blind2"})

MIN_CRITICAL_RECALL = 0.97
MAX_CLEAR_AS_CRITICAL = 0.02
TIMING_TEXT_LENGTH = 2_000
TIMING_RUNS = 2_000


@dataclasses.dataclass(frozen=True)
class Example:
    id: str
    text: str
    band: str
    family: str
    split: str


@dataclasses.dataclass
class Result:
    """Expected and scored bands of one set of examples."""

    name: str
    pairs: list[tuple[Example, str]]

    def confusion(self) -> dict[tuple[str, str], int]:
        counts = {(expected, got): 0 for expected in BAND_NAMES for got in BAND_NAMES}
        for example, got in self.pairs:
            counts[(example.band, got)] += 1
        return counts

    def recall(self, band: str) -> float:
        relevant = [got for example, got in self.pairs if example.band == band]
        return sum(1 for got in relevant if got == band) / len(relevant) if relevant else float("nan")

    def precision(self, band: str) -> float:
        predicted = [example.band for example, got in self.pairs if got == band]
        return sum(1 for expected in predicted if expected == band) / len(predicted) if predicted else float("nan")

    def clear_as_critical(self) -> float:
        clear = [got for example, got in self.pairs if example.band == "clear"]
        return sum(1 for got in clear if got == "critical") / len(clear) if clear else float("nan")

    def misses(self) -> list[tuple[Example, str]]:
        return [(example, got) for example, got in self.pairs if example.band != got]


def load_examples() -> list[Example]:
    """Read every eval/seda/*.jsonl file; the file name is the split."""
    examples = []
    seen_ids = set()
    for path in sorted(EVAL_DIR.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            where = f"{path.name}:{number}"
            if row["band"] not in BAND_NAMES:
                raise ValueError(f"{where}: band {row['band']!r} is not one of {', '.join(BAND_NAMES)}")
            if row["family"] not in FAMILIES:
                raise ValueError(f"{where}: family {row['family']!r} is unknown; use one of {sorted(FAMILIES)}")
            if row["id"] in seen_ids:
                raise ValueError(f"{where}: id {row['id']!r} appears twice; ids must be unique")
            seen_ids.add(row["id"])
            examples.append(Example(row["id"], row["text"], row["band"], row["family"], path.stem))
    return examples


def evaluate(examples: list[Example]) -> dict[str, Result]:
    """Score every example and group the results by split, plus "all" for the splits the targets cover."""
    pairs = [(example, scorer.assess(example.text).band) for example in examples]
    results = {"all": Result("all", [(e, got) for e, got in pairs if e.split not in REPORT_ONLY_SPLITS])}
    for split in sorted({example.split for example in examples}):
        results[split] = Result(split, [(e, got) for e, got in pairs if e.split == split])
    return results


def failed_targets(result: Result) -> list[str]:
    """Return the failed targets of ``result`` as messages; empty when all pass."""
    failures = []
    if not result.recall("critical") >= MIN_CRITICAL_RECALL:
        failures.append(f"recall of critical is {result.recall('critical'):.3f}, below {MIN_CRITICAL_RECALL}")
    if not result.clear_as_critical() < MAX_CLEAR_AS_CRITICAL:
        failures.append(f"{result.clear_as_critical():.1%} of clear texts scored critical, "
                        f"not under {MAX_CLEAR_AS_CRITICAL:.0%}")
    return failures


def measure_timing(examples: list[Example]) -> tuple[float, float]:
    """Time assess() on a 2,000-character text built from the examples; return p50 and p99 in ms."""
    rng = random.Random(2026)
    pool = [example.text for example in examples if example.split == "dev"]
    text = ""
    while len(text) < TIMING_TEXT_LENGTH:
        text += rng.choice(pool) + " "
    text = text[:TIMING_TEXT_LENGTH]

    for _ in range(50):
        scorer.assess(text)
    durations = []
    for _ in range(TIMING_RUNS):
        start = time.perf_counter()
        scorer.assess(text)
        durations.append((time.perf_counter() - start) * 1000)
    cuts = statistics.quantiles(durations, n=100)
    return cuts[49], cuts[98]


def format_tables(result: Result) -> list[str]:
    lines = [f"#### {result.name} ({len(result.pairs)} texts)", ""]
    lines += ["| band | expected | precision | recall |", "|---|---:|---:|---:|"]
    for band in BAND_NAMES:
        expected = sum(1 for example, _ in result.pairs if example.band == band)
        lines.append(f"| {band} | {expected} | {result.precision(band):.3f} | {result.recall(band):.3f} |")
    lines += ["", "| expected \\ scored | " + " | ".join(BAND_NAMES) + " |",
              "|---|" + "---:|" * len(BAND_NAMES)]
    confusion = result.confusion()
    for expected in BAND_NAMES:
        cells = " | ".join(str(confusion[(expected, got)]) for got in BAND_NAMES)
        lines.append(f"| {expected} | {cells} |")
    lines += ["", f"Critical recall {result.recall('critical'):.3f}; clear scored critical "
                  f"{result.clear_as_critical():.1%}.", ""]
    return lines


def print_misses(title: str, result: Result) -> None:
    print(f"{title} (id, family, expected -> scored):")
    for example, got in result.misses():
        print(f"  {example.id:12} {example.family:18} {example.band} -> {got}")


def print_report(results: dict[str, Result], failures: list[str], timing: tuple[float, float]) -> None:
    for name in [n for n in results if n != "all"] + ["all"]:
        print("\n".join(format_tables(results[name])))
    print_misses("Misses in all", results["all"])
    for name in sorted(REPORT_ONLY_SPLITS & results.keys()):
        print()
        print_misses(f"Misses in {name}", results[name])
    print(f"\nTiming, {TIMING_TEXT_LENGTH}-character text, {TIMING_RUNS} runs: "
          f"p50 {timing[0]:.2f} ms, p99 {timing[1]:.2f} ms")
    for name in sorted(REPORT_ONLY_SPLITS & results.keys()):
        report_only_failures = failed_targets(results[name])
        print(f"\nTargets on {name} (reported, not enforced): "
              + ("met" if not report_only_failures else "missed: " + "; ".join(report_only_failures)))
    print("\nTargets on all (dev and holdout): " + ("met" if not failures else "FAILED: " + "; ".join(failures)))


def write_benchmarks(results: dict[str, Result], failures: list[str], timing: tuple[float, float]) -> None:
    """Replace the seda-eval section of BENCHMARKS.md, appending it when the markers are missing."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        START_MARKER,
        "## SEDA scorer evaluation",
        "",
        f"Written by `make eval-seda` (`python tools/eval_seda.py`) on {now}, "
        f"model version `{scorer.MODEL_VERSION}`, Python {platform.python_version()}.",
        "The texts in `eval/seda/` were written for this purpose; `dev` is the split the rules were tuned on,",
        "`holdout` was written before any rule existed and is not tuned on.",
        "`redteam` is a blind adversarial set written without reading the scorer or the other splits;",
        "it is reported on its own and left out of `all` and the targets.",
        "`blind2` is a second blind set, written later under the same rules and never tuned on;",
        "it is reported the same way.",
        f"Targets, checked on `all` (dev and holdout): recall of critical >= {MIN_CRITICAL_RECALL}, "
        f"clear texts scored critical < {MAX_CLEAR_AS_CRITICAL:.0%}. "
        + ("Both are met." if not failures else "Failed: " + "; ".join(failures) + "."),
        "",
    ]
    for name in [n for n in results if n != "all"] + ["all"]:
        lines += format_tables(results[name])
    lines += [
        f"Timing: `assess()` in process on one {TIMING_TEXT_LENGTH}-character text mixed from the dev split, "
        f"{TIMING_RUNS} runs: p50 {timing[0]:.2f} ms, p99 {timing[1]:.2f} ms "
        f"(one core of the machine described above, shared with other work).",
        END_MARKER,
    ]
    section = "\n".join(lines)

    current = BENCHMARKS.read_text(encoding="utf-8") if BENCHMARKS.exists() else "# Benchmarks\n"
    if START_MARKER in current and END_MARKER in current:
        head, rest = current.split(START_MARKER, 1)
        _, tail = rest.split(END_MARKER, 1)
        updated = head + section + tail
    else:
        updated = current.rstrip("\n") + "\n\n" + section + "\n"
    BENCHMARKS.write_text(updated, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print the figures but leave BENCHMARKS.md as it is")
    args = parser.parse_args(argv)

    examples = load_examples()
    results = evaluate(examples)
    failures = failed_targets(results["all"])
    timing = measure_timing(examples)

    print_report(results, failures, timing)
    if not args.no_write:
        write_benchmarks(results, failures, timing)
        print(f"Updated {BENCHMARKS.relative_to(ROOT)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
