"""Evaluate the SEDA scorer on eval/seda/ and record the figures in BENCHMARKS.md.

Prints per-band precision and recall and the 4x4 confusion matrix for each split.
The splits fall into three groups:

    training   every eval/seda/*.jsonl file but the blind splits, and eval/seda/train/*.jsonl.
               The model was fitted on these texts and the rules were tuned on dev,
               so their figures are in-sample and measure nothing about new text.
    cross-validated
               the out-of-fold predictions that tools/train_seda.py wrote to
               eval/seda/model_cv.json (rules and n-gram model, "cv hybrid") and
               tools/train_seda_encoder.py wrote to eval/seda/encoder_cv.json (the
               whole scorer, "cv scorer with encoder"): each training text scored by
               models fitted without its fold. Not blind, because the thresholds were
               chosen on them and the rules were tuned on dev and holdout.
    blind      eval/seda/blind7.jsonl, blind6.jsonl and blind5.jsonl, each when it
               exists: texts never used to build or tune the scorer. They are the
               gate. Each is also scored without the encoder (SEDA_ENCODER=off),
               reported beside it and not part of the gate.

Targets:

    recall of critical              >= 0.97
    clear texts scored critical      < 2%

Exits 1 when a target fails on a blind split, or, without one, when model_cv.json or
encoder_cv.json does not match the current training files (retrain with
`make train-seda`, then `make train-seda-encoder`). Rewrites the
part of BENCHMARKS.md between the seda-eval markers unless --no-write is given.

Usage: python tools/eval_seda.py [--no-write]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import json
import pathlib
import platform
import random
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "tools"))

import train_seda  # noqa: E402
from services.seda import encoder as seda_encoder  # noqa: E402
from services.seda import scorer  # noqa: E402

EVAL_DIR = ROOT / "eval" / "seda"
TRAIN_DIR = EVAL_DIR / "train"
CV_REPORT = EVAL_DIR / "model_cv.json"
ENCODER_CV_REPORT = EVAL_DIR / "encoder_cv.json"
# The blind splits, newest first, that gate the scorer; the trainers never read them.
BLIND_SPLITS = train_seda.BLIND_SPLITS
# Splits the rules were tuned on (dev) or read for failure families (holdout).
RULES_TUNED_SPLITS = frozenset({"dev", "holdout"})
BENCHMARKS = ROOT / "BENCHMARKS.md"
START_MARKER = "<!-- seda-eval:start -->"
END_MARKER = "<!-- seda-eval:end -->"

BAND_NAMES = tuple(band.name for band in scorer.BANDS)
FAMILIES = frozenset("""
crisis_direct crisis_oblique farewell plan_method preparatory passive_wish psychosis_mania substance
dual_diagnosis distress negation idiom_hyperbole third_person past_resolved lyrics_quotes unicode_lookalike
leetspeak_slang emoji non_english everyday_clear esoteric_clear
""".split())

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


def data_files() -> list[pathlib.Path]:
    """List eval/seda/*.jsonl (the blind splits included when present) and eval/seda/train/*.jsonl."""
    return sorted(EVAL_DIR.glob("*.jsonl")) + sorted(TRAIN_DIR.glob("*.jsonl"))


def load_examples() -> list[Example]:
    """Read every data file; the file name is the split."""
    examples = []
    seen_ids = set()
    for path in data_files():
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
    """Score every example with the shipped scorer; group the results by split, plus "training" for all but the blind splits."""
    pairs = [(example, scorer.assess(example.text).band) for example in examples]
    results = {"training": Result("training", [(e, got) for e, got in pairs if e.split not in BLIND_SPLITS])}
    for split in sorted({example.split for example in examples}):
        results[split] = Result(split, [(e, got) for e, got in pairs if e.split == split])
    return results


def training_digests() -> dict[str, str]:
    """Hash each training file with SHA-256, keyed by path as tools/train_seda.py keys them in model_cv.json."""
    return {path.relative_to(ROOT).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in data_files() if path.stem not in BLIND_SPLITS}


def cross_validated(examples: list[Example]) -> tuple[dict[str, Result], list[str]]:
    """Read the out-of-fold predictions of model_cv.json; also return why the report is stale, if it is."""
    if not CV_REPORT.exists():
        return {}, [f"{CV_REPORT.relative_to(ROOT)} is missing; run `make train-seda`"]
    report = json.loads(CV_REPORT.read_text(encoding="utf-8"))
    problems = []
    if report["files"] != training_digests():
        problems.append(f"{CV_REPORT.relative_to(ROOT)} was written for other training files; run `make train-seda`")
    if report["version"] != scorer.MODEL_VERSION:
        problems.append(f"{CV_REPORT.relative_to(ROOT)} is for {report['version']}, the scorer is "
                        f"{scorer.MODEL_VERSION}; run `make train-seda`")

    predictions = report["predictions"]
    training = [e for e in examples if e.split not in BLIND_SPLITS and e.id in predictions]
    rules_blind = [e for e in training if e.split not in RULES_TUNED_SPLITS]
    results = {}
    if not ENCODER_CV_REPORT.exists():
        problems.append(f"{ENCODER_CV_REPORT.relative_to(ROOT)} is missing; run `make train-seda-encoder`")
    else:
        encoder_report = json.loads(ENCODER_CV_REPORT.read_text(encoding="utf-8"))
        if encoder_report["files"] != training_digests():
            problems.append(f"{ENCODER_CV_REPORT.relative_to(ROOT)} was written for other training files; "
                            "run `make train-seda-encoder`")
        shipped = json.loads(seda_encoder.META_PATH.read_text(encoding="utf-8"))["thresholds"]
        if encoder_report["thresholds"] != shipped:
            problems.append(f"{ENCODER_CV_REPORT.relative_to(ROOT)} has thresholds {encoder_report['thresholds']}, "
                            f"the shipped encoder {shipped}; run `make train-seda-encoder`")
        if encoder_report["version"] != seda_encoder.ENCODER_VERSION:
            problems.append(f"{ENCODER_CV_REPORT.relative_to(ROOT)} is for {encoder_report['version']}, the encoder "
                            f"is {seda_encoder.ENCODER_VERSION}; run `make train-seda-encoder`")
        encoded = encoder_report["predictions"]
        scored = [e for e in training if e.id in encoded]
        results["cv scorer with encoder"] = Result(
            "cv scorer with encoder", [(e, encoded[e.id]["with_encoder"]) for e in scored])
        results["cv encoder alone"] = Result("cv encoder alone", [(e, encoded[e.id]["encoder"]) for e in scored])
    results |= {
        "cv hybrid": Result("cv hybrid", [(e, predictions[e.id]["hybrid"]) for e in training]),
        "cv hybrid, rules-blind texts": Result("cv hybrid, rules-blind texts",
                                               [(e, predictions[e.id]["hybrid"]) for e in rules_blind]),
        "cv model alone": Result("cv model alone", [(e, predictions[e.id]["model"]) for e in training]),
        "rules alone, no model": Result("rules alone, no model", [(e, predictions[e.id]["rules"]) for e in training]),
    }
    return results, problems


def failed_targets(result: Result) -> list[str]:
    """Return the failed targets of ``result`` as messages; empty when all pass."""
    failures = []
    if not result.recall("critical") >= MIN_CRITICAL_RECALL:
        failures.append(f"recall of critical is {result.recall('critical'):.3f}, below {MIN_CRITICAL_RECALL}")
    if not result.clear_as_critical() < MAX_CLEAR_AS_CRITICAL:
        failures.append(f"{result.clear_as_critical():.1%} of clear texts scored critical, "
                        f"not under {MAX_CLEAR_AS_CRITICAL:.0%}")
    return failures


def evaluate_without_encoder(examples: list[Example]) -> dict[str, Result]:
    """Score the blind splits as SEDA_ENCODER=off does, by split; reported, not the gate."""
    results = {}
    for split in BLIND_SPLITS:
        pairs = [(e, scorer.assess(e.text, use_encoder=False).band) for e in examples if e.split == split]
        if pairs:
            results[split] = Result(f"{split}, encoder off", pairs)
    return results


def measure_timing(examples: list[Example], use_encoder: bool = True) -> tuple[float, float]:
    """Time assess() on a 2,000-character text built from clear dev examples; return p50 and p99 in ms.

    Clear texts, because the scorer skips its encoder, the slowest part, on a text
    that is already critical.
    """
    rng = random.Random(2026)
    pool = [example.text for example in examples if example.split == "dev" and example.band == "clear"]
    text = ""
    while len(text) < TIMING_TEXT_LENGTH:
        text += rng.choice(pool) + " "
    text = text[:TIMING_TEXT_LENGTH]

    for _ in range(50):
        scorer.assess(text, use_encoder=use_encoder)
    durations = []
    for _ in range(TIMING_RUNS):
        start = time.perf_counter()
        scorer.assess(text, use_encoder=use_encoder)
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


def target_line(result: Result) -> str:
    failures = failed_targets(result)
    return "met" if not failures else "missed: " + "; ".join(failures)


def print_report(results: dict[str, Result], off_results: dict[str, Result], cv_results: dict[str, Result],
                 problems: list[str], timing: dict[bool, tuple[float, float]]) -> None:
    print("== Training data, in-sample (the model was fitted on these texts; not a measurement) ==\n")
    for name in [n for n in results if n != "training" and n not in BLIND_SPLITS] + ["training"]:
        print("\n".join(format_tables(results[name])))
    print("== Cross-validated (out-of-fold, from model_cv.json; not blind) ==\n")
    for result in cv_results.values():
        print("\n".join(format_tables(result)))
    if "cv scorer with encoder" in cv_results:
        print_misses("Cross-validated misses", cv_results["cv scorer with encoder"])
    for use_encoder, (p50, p99) in timing.items():
        print(f"\nTiming, {TIMING_TEXT_LENGTH}-character text, {TIMING_RUNS} runs, encoder {_on_off(use_encoder)}: "
              f"p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    for name, result in cv_results.items():
        print(f"Targets on {name} (reported, not enforced): {target_line(result)}")
    for problem in problems:
        print(f"Problem: {problem}")
    for split in BLIND_SPLITS:
        if split not in results:
            print(f"\nNo eval/seda/{split}.jsonl, so it was not scored.")
            continue
        print(f"\n== {split} (blind) ==\n")
        print("\n".join(format_tables(results[split])))
        print_misses(f"Misses in {split}", results[split])
        print(f"\nTargets on {split} (the gate): " + target_line(results[split]).replace("missed", "FAILED"))
        if split in off_results:
            print("\n".join(format_tables(off_results[split])))
            print(f"Targets on {split} with the encoder off (reported, not the gate): {target_line(off_results[split])}")


def _on_off(use_encoder: bool) -> str:
    return "on" if use_encoder else "off"


def _listed(items) -> str:
    """Join items as English lists them: "a", "a and b", "a, b and c"."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def write_benchmarks(results: dict[str, Result], off_results: dict[str, Result], cv_results: dict[str, Result],
                     timing: dict[bool, tuple[float, float]]) -> None:
    """Replace the seda-eval section of BENCHMARKS.md, appending it when the markers are missing."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        START_MARKER,
        "## SEDA scorer evaluation",
        "",
        f"Written by `make eval-seda` (`python tools/eval_seda.py`) on {now}, "
        f"model version `{scorer.MODEL_VERSION}`, Python {platform.python_version()}.",
        f"Targets: recall of critical >= {MIN_CRITICAL_RECALL}, clear texts scored critical "
        f"< {MAX_CLEAR_AS_CRITICAL:.0%}, on text the scorer was never built or tuned with.",
        "",
        "Which figures are blind:",
        "",
        f"- {_listed(f'`{split}`' for split in BLIND_SPLITS)} (below, when present) are the only blind "
        "measurements and the gate.",
        "- The cross-validated figures are not blind. Each text was scored by models fitted without",
        "  its fold (5 folds, near-duplicates kept together), but the thresholds were chosen on these",
        "  same predictions, and the rules inside the hybrid were tuned on `dev` and read `holdout`.",
        "  The rules-blind row leaves out `dev` and `holdout`, so only the thresholds saw its texts.",
        "  `cv scorer with encoder` is the shipped scorer; `cv hybrid` is it without the encoder.",
        "- Each blind split is also scored without the encoder (`SEDA_ENCODER=off`): reported, not the gate.",
        "- The per-split figures are in-sample: the model was fitted on every one of these texts.",
        "",
        "### Cross-validated (not blind)",
        "",
    ]
    if not cv_results:
        lines += ["No cross-validation report; run `make train-seda`.", ""]
    for result in cv_results.values():
        lines += format_tables(result)
    for split in BLIND_SPLITS:
        lines += [f"### {split} (blind, the gate)", ""]
        if split in results:
            lines += format_tables(results[split]) + [f"Targets on {split}: {target_line(results[split])}.", ""]
        if split in off_results:
            lines += format_tables(off_results[split])
        else:
            lines += [f"Not run: `eval/seda/{split}.jsonl` is absent.", ""]
    lines += ["### Training data, in-sample (not a measurement)", ""]
    for name in [n for n in results if n != "training" and n not in BLIND_SPLITS] + ["training"]:
        lines += format_tables(results[name])
    timings = "; ".join(f"encoder {_on_off(use_encoder)}: p50 {p50:.2f} ms, p99 {p99:.2f} ms"
                        for use_encoder, (p50, p99) in timing.items())
    lines += [
        f"Timing: `assess()` in process on one {TIMING_TEXT_LENGTH}-character text mixed from the clear texts "
        f"of the dev split, {TIMING_RUNS} runs each: {timings} "
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
    off_results = evaluate_without_encoder(examples)
    cv_results, problems = cross_validated(examples)
    timing = {use_encoder: measure_timing(examples, use_encoder) for use_encoder in (True, False)}

    print_report(results, off_results, cv_results, problems, timing)
    if not args.no_write:
        write_benchmarks(results, off_results, cv_results, timing)
        print(f"Updated {BENCHMARKS.relative_to(ROOT)}")
    scored = [split for split in BLIND_SPLITS if split in results]
    if scored:
        return 1 if any(failed_targets(results[split]) for split in scored) else 0
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
