"""Train the SEDA model, choose its thresholds by grouped cross-validation and write the weights.

Training texts: every eval/seda/*.jsonl file except the blind sets (BLIND_SPLITS),
plus eval/seda/train/*.jsonl. The blind sets are the final measurement and are never read.

Steps:
1. Fold each text (scorer_text.fold) and hash its features (services/seda/model.py).
   The sentences of wholly ordinary texts (SPLIT_FAMILIES) are added as extra clear
   rows, so the model is trained on short clear texts too.
2. Group near-duplicate texts (word-set Jaccard similarity >= GROUP_SIMILARITY), so
   paraphrases of one text stay in one fold. A sentence row joins its text's fold.
3. Fit the band head in 5 grouped folds and keep the out-of-fold probabilities of
   the texts (sentence rows are trained on, never scored).
4. Combine them with the rule band of each text (the riskier band wins) and choose
   the thresholds on those out-of-fold predictions (see choose_thresholds).
5. Ship the mean of the 5 fold models as the band head, fit the category head on
   all texts of a risky family, and write services/seda/data/seda_model.npz and the
   cross-validation report eval/seda/model_cv.json.

The fit is full-batch L-BFGS on an L2-penalised softmax loss, in NumPy only. Every
step is deterministic, and the .npz file is written with fixed zip timestamps, so a
rerun on the same machine reproduces the files byte for byte.

Usage: python tools/train_seda.py [--folds 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import pathlib
import sys
import zipfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.seda import model as seda_model  # noqa: E402
from services.seda import scorer  # noqa: E402
from services.seda.scorer_text import fold  # noqa: E402

EVAL_DIR = ROOT / "eval" / "seda"
TRAIN_DIR = EVAL_DIR / "train"
CV_REPORT = EVAL_DIR / "model_cv.json"
# The blind splits, newest first; the trainers must never read them.
BLIND_SPLITS = ("blind7", "blind6", "blind5")

MODEL_VERSION = scorer.MODEL_VERSION
SEED = 20261205
GROUP_SIMILARITY = 0.6
L2_PENALTY = 3e-5
MAX_ITERATIONS = 300

# Budgets on the out-of-fold predictions. The critical threshold may bring the share
# of clear texts scored critical, rules included, up to MAX_CLEAR_AS_CRITICAL: under
# the 2% target, with a margin because blind text fares worse than out-of-fold text.
# When the rules alone already pass that share, the model may still add
# MIN_EXTRA_CLEAR_AS_CRITICAL on top of them. Out of fold, that point of false alarms
# buys about 0.29 of critical recall, and a missed crisis costs more than a false alarm.
# The other two thresholds may each move that share of all clear texts into their
# band or a riskier one, on top of what the rules and the stricter thresholds already
# put there.
MAX_CLEAR_AS_CRITICAL = 0.015
MIN_EXTRA_CLEAR_AS_CRITICAL = 0.01
MAX_EXTRA_CLEAR_AS_CAUTION = 0.02
MAX_EXTRA_CLEAR_AS_WATCH = 0.03

BANDS = seda_model.BANDS
# Families of wholly ordinary texts, each of whose sentences is also clear on its own.
# Their sentences are added as extra clear training rows, because the training texts
# hold few short clear ones and the model otherwise learns that a short text is risky.
SPLIT_FAMILIES = frozenset({"everyday_clear", "esoteric_clear"})
MIN_SENTENCE_WORDS = 3
# The signal category that each risky family is about; other families train no category.
FAMILY_CATEGORY = {
    "crisis_direct": "active_ideation",
    "crisis_oblique": "active_ideation",
    "farewell": "preparatory_behavior",
    "preparatory": "preparatory_behavior",
    "plan_method": "plan",
    "passive_wish": "wish_to_be_dead",
    "psychosis_mania": "psychosis_mania",
    "substance": "substance_use",
    "dual_diagnosis": "substance_use",
    "distress": "acute_distress",
}


@dataclasses.dataclass(frozen=True)
class Text:
    id: str
    text: str
    band: str
    family: str
    source: str  # file name without extension


def training_files() -> list[pathlib.Path]:
    """List the training files: eval/seda/*.jsonl without the blind splits, and eval/seda/train/*.jsonl."""
    files = [path for path in sorted(EVAL_DIR.glob("*.jsonl")) if path.stem not in BLIND_SPLITS]
    files += sorted(TRAIN_DIR.glob("*.jsonl"))
    return files


def load_texts(files: list[pathlib.Path]) -> list[Text]:
    texts, seen = [], set()
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if row["band"] not in BANDS:
                raise ValueError(f"{path.name}:{number}: band {row['band']!r} is not one of {', '.join(BANDS)}")
            if row["id"] in seen:
                raise ValueError(f"{path.name}:{number}: id {row['id']!r} appears twice; ids must be unique")
            seen.add(row["id"])
            texts.append(Text(row["id"], row["text"], row["band"], row.get("family", ""), path.stem))
    return texts


def sentence_rows(texts: list[Text]) -> tuple[list[Text], list[int]]:
    """Return the sentences of the texts of SPLIT_FAMILIES as clear texts, and the index of each one's source."""
    rows, sources = [], []
    for index, item in enumerate(texts):
        if item.family not in SPLIT_FAMILIES or item.band != "clear":
            continue
        folded = fold(item.text).text
        for number, (start, end) in enumerate(seda_model.split_sentences(folded)):
            if len(folded[start:end].split()) >= MIN_SENTENCE_WORDS:
                rows.append(Text(f"{item.id}#{number}", folded[start:end], "clear", item.family, item.source))
                sources.append(index)
    return rows, sources


# Features ---------------------------------------------------------------------

@dataclasses.dataclass
class SparseRows:
    """Rows of unit-norm hashed feature vectors in CSR form."""

    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        self.rows = np.repeat(np.arange(len(self.indptr) - 1), np.diff(self.indptr))

    @property
    def count(self) -> int:
        return len(self.indptr) - 1

    def subset(self, selected: np.ndarray) -> "SparseRows":
        pieces = [(self.indices[self.indptr[i]:self.indptr[i + 1]], self.values[self.indptr[i]:self.indptr[i + 1]])
                  for i in selected]
        lengths = np.array([len(p[0]) for p in pieces], dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        return SparseRows(indptr, np.concatenate([p[0] for p in pieces]), np.concatenate([p[1] for p in pieces]))


def featurize_windows(texts: list[Text]) -> tuple[SparseRows, np.ndarray]:
    """Return the feature rows of every window of every text (seda_model.windows) and the text each belongs to."""
    indices, values, lengths, owners = [], [], [], []
    for number, item in enumerate(texts):
        folded = fold(item.text).text
        features = seda_model.text_features(folded)
        for row_indices, row_values in seda_model.window_vectors(features, seda_model.windows(folded, features)):
            indices.append(row_indices)
            values.append(row_values)
            lengths.append(len(row_indices))
            owners.append(number)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    rows = SparseRows(indptr, np.concatenate(indices).astype(np.int64), np.concatenate(values))
    return rows, np.array(owners, dtype=np.int64)


def featurize(texts: list[Text]) -> SparseRows:
    indices, values, lengths = [], [], []
    for item in texts:
        row_indices, row_values = seda_model.document_vector(seda_model.text_features(fold(item.text).text).buckets)
        indices.append(row_indices)
        values.append(row_values)
        lengths.append(len(row_indices))
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return SparseRows(indptr, np.concatenate(indices).astype(np.int64), np.concatenate(values))


# Softmax regression -------------------------------------------------------------

def fit_softmax(features: SparseRows, labels: np.ndarray, classes: int, buckets: int,
                penalty: float = L2_PENALTY, iterations: int = MAX_ITERATIONS) -> tuple[np.ndarray, np.ndarray]:
    """Fit an L2-penalised softmax regression with L-BFGS; return weights (buckets x classes) and bias.

    Classes are weighted by inverse frequency, so a rare band weighs as much as a common one.
    """
    counts = np.bincount(labels, minlength=classes).astype(np.float64)
    class_weight = np.where(counts > 0, len(labels) / (classes * np.maximum(counts, 1)), 0.0)
    sample_weight = class_weight[labels] / len(labels)
    onehot = np.eye(classes)[labels]
    indices = features.indices % buckets
    size = buckets * classes

    def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        weights = theta[:size].reshape(buckets, classes)
        bias = theta[size:]
        logits = np.stack([np.bincount(features.rows, weights=features.values * weights[indices, k],
                                       minlength=features.count) for k in range(classes)], axis=1) + bias
        logits -= logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(logits).sum(axis=1))
        log_probabilities = logits - log_norm[:, None]
        loss = -float(np.sum(sample_weight * np.sum(onehot * log_probabilities, axis=1)))
        loss += 0.5 * penalty * float(np.dot(theta[:size], theta[:size]))

        residual = (np.exp(log_probabilities) - onehot) * sample_weight[:, None]
        gradient_weights = np.stack([np.bincount(indices, weights=features.values * residual[features.rows, k],
                                                 minlength=buckets) for k in range(classes)], axis=1)
        gradient = np.concatenate([gradient_weights.ravel() + penalty * theta[:size], residual.sum(axis=0)])
        return loss, gradient

    theta = _lbfgs(loss_and_gradient, np.zeros(size + classes), iterations)
    return theta[:size].reshape(buckets, classes), theta[size:]


def _lbfgs(function, theta: np.ndarray, iterations: int, memory: int = 10, tolerance: float = 1e-7) -> np.ndarray:
    """Minimise ``function`` (returning loss and gradient) with L-BFGS and a backtracking Armijo line search."""
    loss, gradient = function(theta)
    steps, changes = [], []
    for _ in range(iterations):
        direction = -gradient
        alphas = []
        for step, change in reversed(list(zip(steps, changes))):
            alpha = np.dot(step, direction) / np.dot(change, step)
            alphas.append(alpha)
            direction = direction - alpha * change
        if steps:
            direction *= np.dot(steps[-1], changes[-1]) / np.dot(changes[-1], changes[-1])
        for (step, change), alpha in zip(zip(steps, changes), reversed(alphas)):
            beta = np.dot(change, direction) / np.dot(change, step)
            direction = direction + (alpha - beta) * step

        slope = float(np.dot(gradient, direction))
        if slope >= 0:
            direction, slope = -gradient, -float(np.dot(gradient, gradient))
        rate = 1.0
        while True:
            candidate = theta + rate * direction
            new_loss, new_gradient = function(candidate)
            if new_loss <= loss + 1e-4 * rate * slope or rate < 1e-10:
                break
            rate *= 0.5

        step, change = candidate - theta, new_gradient - gradient
        if np.dot(step, change) > 1e-12:
            steps.append(step)
            changes.append(change)
            if len(steps) > memory:
                steps.pop(0)
                changes.pop(0)
        converged = abs(loss - new_loss) <= tolerance * max(1.0, abs(loss))
        theta, loss, gradient = candidate, new_loss, new_gradient
        if converged:
            break
    return theta


def predict(features: SparseRows, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    classes = weights.shape[1]
    indices = features.indices % weights.shape[0]
    logits = np.stack([np.bincount(features.rows, weights=features.values * weights[indices, k],
                                   minlength=features.count) for k in range(classes)], axis=1) + bias
    return seda_model.softmax(logits)


# Grouped cross-validation ------------------------------------------------------------

def near_duplicate_groups(texts: list[Text]) -> np.ndarray:
    """Give texts whose word sets overlap by GROUP_SIMILARITY or more (Jaccard) one group id."""
    words = [frozenset(fold(item.text).text.split()) for item in texts]
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            union = len(words[i] | words[j])
            if union and len(words[i] & words[j]) / union >= GROUP_SIMILARITY:
                parent[root(j)] = root(i)
    return np.array([root(i) for i in range(len(texts))])


def assign_folds(groups: np.ndarray, labels: np.ndarray, folds: int) -> np.ndarray:
    """Deal groups to folds, largest first, each to the fold with the fewest texts of its main band."""
    rng = np.random.default_rng(SEED)
    unique = np.unique(groups)
    rng.shuffle(unique)
    members = {g: np.flatnonzero(groups == g) for g in unique}
    order = sorted(unique, key=lambda g: -len(members[g]))
    per_band = np.zeros((folds, len(BANDS)))
    assignment = np.zeros(len(groups), dtype=np.int64)
    for group in order:
        band = np.bincount(labels[members[group]], minlength=len(BANDS)).argmax()
        fold_index = int(np.argmin(per_band[:, band] * 1000 + per_band.sum(axis=1)))
        assignment[members[group]] = fold_index
        per_band[fold_index] += np.bincount(labels[members[group]], minlength=len(BANDS))
    return assignment


def cross_validate(features: SparseRows, labels: np.ndarray, assignment: np.ndarray, folds: int,
                   scored: int, windows: SparseRows, window_owner: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return out-of-fold band probabilities of the first ``scored`` rows and of the windows, and the mean weights and bias of the folds.

    Rows after ``scored`` (sentence rows) are trained on but never scored. Each
    window is scored by the model of its text's fold.

    The shipped band head is that mean. A model fitted on all texts would be more
    confident than the fold models whose predictions set the thresholds, and so would
    cross them more often on new text than cross-validation shows.
    """
    probabilities = np.zeros((scored, len(BANDS)))
    window_probabilities = np.zeros((windows.count, len(BANDS)))
    weight_sum = np.zeros((seda_model.BUCKETS, len(BANDS)))
    bias_sum = np.zeros(len(BANDS))
    for fold_index in range(folds):
        train = np.flatnonzero(assignment != fold_index)
        test = np.flatnonzero(assignment[:scored] == fold_index)
        weights, bias = fit_softmax(features.subset(train), labels[train], len(BANDS), seda_model.BUCKETS)
        probabilities[test] = predict(features.subset(test), weights, bias)
        test_windows = np.flatnonzero(assignment[window_owner] == fold_index)
        if len(test_windows):
            window_probabilities[test_windows] = predict(windows.subset(test_windows), weights, bias)
        weight_sum += weights
        bias_sum += bias
        print(f"  fold {fold_index + 1}/{folds}: {len(train)} training texts, {len(test)} scored", flush=True)
    return probabilities, window_probabilities, weight_sum / folds, bias_sum / folds


# Thresholds ---------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class WindowScores:
    """Out-of-fold band probabilities of every window, and the text each window belongs to."""

    probabilities: np.ndarray
    owner: np.ndarray


def model_band_indices(probabilities: np.ndarray, thresholds: seda_model.Thresholds) -> np.ndarray:
    """Map rows of band probabilities to band indices, as seda_model.Model.band_for does."""
    bands = np.full(len(probabilities), 3)
    bands[1.0 - probabilities[:, 3] >= thresholds.watch] = 2
    bands[probabilities[:, 0] + probabilities[:, 1] >= thresholds.caution] = 1
    bands[probabilities[:, 0] >= thresholds.critical] = 0
    return bands


def hybrid_bands(probabilities: np.ndarray, rule_bands: np.ndarray, thresholds: seda_model.Thresholds,
                 long_enough: np.ndarray, windows: WindowScores | None = None) -> np.ndarray:
    """Combine model and rule bands (indices into BANDS) as services/seda/scorer.py does: the riskiest wins.

    ``long_enough`` marks the texts of at least MIN_WORDS words, the only ones whose
    whole-text band counts. With ``windows``, the riskiest window of a text counts too.
    """
    model_bands = model_band_indices(probabilities, thresholds)
    model_bands[~long_enough] = 3
    if windows is not None and len(windows.owner):
        np.minimum.at(model_bands, windows.owner, model_band_indices(windows.probabilities, thresholds))
    return np.minimum(model_bands, rule_bands)


def choose_thresholds(probabilities: np.ndarray, labels: np.ndarray, rule_bands: np.ndarray,
                      long_enough: np.ndarray, windows: WindowScores) -> seda_model.Thresholds:
    """Choose the lowest thresholds that stay within the budgets on the out-of-fold predictions.

    The model can only raise risk, so every threshold costs clear texts. The critical
    one is the lowest value that keeps at most MAX_CLEAR_AS_CRITICAL of the clear texts
    critical, or MIN_EXTRA_CLEAR_AS_CRITICAL more than the rules alone, whichever is more. Each other one is the lowest value that moves at most its budget
    (MAX_EXTRA_CLEAR_AS_*) more of the clear texts into its band or a riskier one than
    the rules and the stricter thresholds already put there.
    They are chosen in the order critical, caution, watch, and a lower threshold
    always raises more texts, so the lowest one within budget gives the most recall.
    """
    clear = labels == 3
    grid = np.round(np.arange(0.02, 1.0, 0.01), 2)

    def lowest(make, worst_band: int, extra: float, total: float | None = None) -> float:
        before = np.mean(hybrid_bands(probabilities, rule_bands, make(1.0), long_enough, windows)[clear] <= worst_band)
        allowed = before + extra if total is None else max(before + extra, total)
        for value in grid:
            bands = hybrid_bands(probabilities, rule_bands, make(value), long_enough, windows)
            if np.mean(bands[clear] <= worst_band) <= allowed:
                return float(value)
        return 1.0

    critical = lowest(lambda v: seda_model.Thresholds(v, 1.0, 1.0), 0, MIN_EXTRA_CLEAR_AS_CRITICAL,
                      total=MAX_CLEAR_AS_CRITICAL)
    caution = lowest(lambda v: seda_model.Thresholds(critical, v, 1.0), 1, MAX_EXTRA_CLEAR_AS_CAUTION)
    watch = lowest(lambda v: seda_model.Thresholds(critical, caution, v), 2, MAX_EXTRA_CLEAR_AS_WATCH)
    return seda_model.Thresholds(critical, caution, watch)


def band_figures(labels: np.ndarray, predicted: np.ndarray) -> dict:
    """Recall per band, the confusion matrix and the share of clear texts scored critical."""
    confusion = np.zeros((len(BANDS), len(BANDS)), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    recall = {band: (float(confusion[i, i] / confusion[i].sum()) if confusion[i].sum() else None)
              for i, band in enumerate(BANDS)}
    clear_total = confusion[3].sum()
    return {
        "texts": int(len(labels)),
        "recall": recall,
        "clear_as_critical": float(confusion[3, 0] / clear_total) if clear_total else None,
        "confusion": confusion.tolist(),
    }


# Output -------------------------------------------------------------------------

def write_npz(path: pathlib.Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an .npz archive with fixed zip timestamps, so equal arrays give equal bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


def write_report(path: pathlib.Path, report: dict) -> None:
    """Write a cross-validation report and print its figures and its critical-threshold trade-off."""
    path.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    for name, figures in report["figures"].items():
        recall = ", ".join(f"{band} {value:.3f}" for band, value in figures["recall"].items() if value is not None)
        print(f"{name}: recall {recall}; clear scored critical {figures['clear_as_critical']:.1%}")
    for row in report["critical_threshold_tradeoff"]:
        print(f"critical threshold {row['critical_threshold']:.2f} alone: recall of critical "
              f"{row['recall_critical']:.3f}, clear scored critical {row['clear_as_critical']:.1%}")


def file_digest(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5, help="number of cross-validation folds (default 5)")
    args = parser.parse_args(argv)

    files = training_files()
    texts = load_texts(files)
    labels = np.array([BANDS.index(item.band) for item in texts])
    print(f"{len(texts)} training texts from {len(files)} files", flush=True)

    groups = near_duplicate_groups(texts)
    assignment = assign_folds(groups, labels, args.folds)
    sentences, sources = sentence_rows(texts)
    # A sentence row stays in the fold of the text it came from.
    rows = texts + sentences
    row_labels = np.concatenate([labels, np.full(len(sentences), BANDS.index("clear"))]).astype(np.int64)
    row_assignment = np.concatenate([assignment, assignment[sources]]).astype(np.int64)
    features = featurize(rows)
    print(f"{len(np.unique(groups))} groups of near-duplicates, {len(sentences)} sentence rows; cross-validating",
          flush=True)

    window_rows, window_owner = featurize_windows(texts)
    probabilities, window_probabilities, band_weights, band_bias = cross_validate(
        features, row_labels, row_assignment, args.folds, len(texts), window_rows, window_owner)
    windows = WindowScores(window_probabilities, window_owner)
    rule_bands = np.array([BANDS.index(scorer.rule_band(item.text)) for item in texts])
    long_enough = np.array([seda_model.word_count(fold(item.text).text) >= seda_model.MIN_WORDS for item in texts])
    thresholds = choose_thresholds(probabilities, labels, rule_bands, long_enough, windows)
    hybrid = hybrid_bands(probabilities, rule_bands, thresholds, long_enough, windows)
    model_only = hybrid_bands(probabilities, np.full(len(texts), 3), thresholds, long_enough, windows)
    ungated = hybrid_bands(probabilities, rule_bands, thresholds, np.ones(len(texts), dtype=bool), windows)
    print(f"thresholds: {thresholds}", flush=True)

    print("fitting the category head on all texts of a risky family", flush=True)
    category_rows = np.array([i for i, item in enumerate(texts) if item.family in FAMILY_CATEGORY])
    category_labels = np.array([seda_model.CATEGORIES.index(FAMILY_CATEGORY[texts[i].family]) for i in category_rows])
    category_weights, category_bias = fit_softmax(features.subset(category_rows), category_labels,
                                                  len(seda_model.CATEGORIES), 1 << seda_model.CATEGORY_BUCKET_BITS)

    meta = {"version": MODEL_VERSION, "thresholds": dataclasses.asdict(thresholds)}
    write_npz(seda_model.WEIGHTS_PATH, {
        "band_weights": band_weights.astype(np.float16),
        "band_bias": band_bias.astype(np.float32),
        "category_weights": category_weights.astype(np.float16),
        "category_bias": category_bias.astype(np.float32),
        "meta": np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8),
    })

    # Recall of critical against clear texts scored critical for other critical
    # thresholds, to show what the chosen budget gives up.
    tradeoff = []
    for value in (0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2):
        bands = hybrid_bands(probabilities, rule_bands, seda_model.Thresholds(value, 1.0, 1.0), long_enough, windows)
        tradeoff.append({"critical_threshold": value, "recall_critical": float(np.mean(bands[labels == 0] == 0)),
                         "clear_as_critical": float(np.mean(bands[labels == 3] == 0))})

    rules_blind = np.array([item.source not in ("dev", "holdout") for item in texts])
    report = {
        "version": MODEL_VERSION,
        "folds": args.folds,
        "seed": SEED,
        "thresholds": dataclasses.asdict(thresholds),
        "files": {path.relative_to(ROOT).as_posix(): file_digest(path) for path in files},
        "figures": {
            "hybrid_all": band_figures(labels, hybrid),
            "hybrid_rules_blind": band_figures(labels[rules_blind], hybrid[rules_blind]),
            "model_only_all": band_figures(labels, model_only),
            "rules_only_all": band_figures(labels, rule_bands),
            "hybrid_without_word_gate_all": band_figures(labels, ungated),
        },
        "critical_threshold_tradeoff": tradeoff,
        "predictions": {item.id: {"hybrid": BANDS[hybrid[i]], "model": BANDS[model_only[i]],
                                  "rules": BANDS[rule_bands[i]]} for i, item in enumerate(texts)},
    }
    write_report(CV_REPORT, report)
    print(f"Wrote {seda_model.WEIGHTS_PATH.relative_to(ROOT)} and {CV_REPORT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
