"""Tests of the learned SEDA model: loading, determinism, driving-sentence spans and the hybrid contract."""

import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from services.seda import model as seda_model
from services.seda import scorer
from services.seda.scorer_text import fold

ROOT = pathlib.Path(__file__).resolve().parent.parent
BAND_ORDER = {band.name: index for index, band in enumerate(scorer.BANDS)}


def _load_tool(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def eval_examples():
    tool = _load_tool("eval_seda")
    return [e for e in tool.load_examples() if e.split not in tool.BLIND_SPLITS]


def test_weights_load():
    model = seda_model.Model.load()
    assert model.band_weights.shape == (seda_model.BUCKETS, len(seda_model.BANDS))
    assert model.category_weights.shape == (1 << seda_model.CATEGORY_BUCKET_BITS, len(seda_model.CATEGORIES))
    assert model.version == scorer.MODEL_VERSION


def test_thresholds_ordered():
    thresholds = seda_model.default_model().thresholds
    assert 0.0 < thresholds.critical <= 1.0
    assert 0.0 < thresholds.caution <= 1.0
    assert 0.0 < thresholds.watch <= 1.0


def test_weights_file_small():
    assert seda_model.WEIGHTS_PATH.stat().st_size < 5_000_000


def test_missing_weights_raise(tmp_path):
    with pytest.raises(FileNotFoundError):
        seda_model.Model.load(tmp_path / "absent.npz")


def test_features_same_across_processes():
    # Python salts str hashes per process; the features must not depend on that.
    text = "Ich will nicht mehr. The bridge tonight \u2014 bye \U0001f44b"
    code = ("import sys; from services.seda import model; from services.seda.scorer_text import fold; "
            "print(model.text_features(fold(sys.argv[1]).text).buckets.tolist())")
    outputs = set()
    for seed in ("1", "2"):
        environment = dict(os.environ, PYTHONHASHSEED=seed)
        result = subprocess.run([sys.executable, "-c", code, text], cwd=ROOT, env=environment,
                                capture_output=True, text=True, check=True)
        outputs.add(result.stdout)
    assert len(outputs) == 1
    assert outputs.pop().strip() == str(seda_model.text_features(fold(text).text).buckets.tolist())


def test_predict_deterministic():
    text = fold("I gave the dog to my sister and wrote everyone a letter. It's time.").text
    first = seda_model.default_model().predict(text)
    second = seda_model.default_model().predict(text)
    assert first == second


def test_probabilities_sum_to_one():
    result = seda_model.default_model().predict(fold("Made pancakes and pulled the Star card.").text)
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-5)


def test_empty_features_clear():
    result = seda_model.default_model().predict("...")
    assert result.band == "clear"


def test_sentences_split_long_clause():
    folded = "a" * 10 + ". " + ", ".join(["word " * 20] * 4)
    spans = seda_model.split_sentences(folded)
    assert spans[0] == (0, 11)
    assert all(end - start <= 240 for start, end in spans[1:])


def test_driving_sentence_is_crisis_sentence():
    crisis = "I am going to kill myself tonight, I have the pills ready."
    text = ("We had pasta for dinner and my brother told a long story about his car. "
            + crisis + " Tomorrow the dentist wants me in at nine and I need to buy milk.")
    folded = fold(text)
    result = seda_model.default_model().predict(folded.text)
    assert result.band != "clear"
    start, end = folded.original_span(result.start, result.end)
    assert text.index(crisis) <= start
    assert end <= text.index(crisis) + len(crisis)


def test_model_signals_point_at_sentence(eval_examples):
    found = 0
    for example in eval_examples:
        for signal in scorer.assess(example.text).signals:
            if not signal.rule.startswith("model."):
                continue
            found += 1
            assert 0 <= signal.start < signal.end <= len(example.text), example.id
            assert signal.rule == f"model.{signal.category}", example.id
            assert signal.category in scorer.CATEGORIES, example.id
            # The span is one sentence: no sentence end inside it. A dot between letters
            # ("k.y.s") is folded away and ends no sentence.
            span = example.text[signal.start:signal.end].rstrip(".!?")
            assert not re.search(r"[.!?](?!\w)|\n", span), example.id
    assert found > 0


def test_model_never_lowers_risk(eval_examples):
    for example in eval_examples[::3]:
        rule = BAND_ORDER[scorer.rule_band(example.text)]
        assert BAND_ORDER[scorer.assess(example.text).band] <= rule, example.id


def test_unsupported_language_never_clear():
    result = scorer.assess("Quiero morir, ya no aguanto m\u00e1s esta vida.")
    assert result.language_supported is False
    assert result.band != "clear"


def test_training_fit_deterministic(tmp_path):
    train = _load_tool("train_seda")
    rows = train.SparseRows(np.array([0, 2, 3, 5]), np.array([1, 7, 7, 2, 9]), np.array([0.6, 0.8, 1.0, 0.6, 0.8]))
    labels = np.array([0, 1, 2])
    first = train.fit_softmax(rows, labels, 4, 16, iterations=50)
    second = train.fit_softmax(rows, labels, 4, 16, iterations=50)
    assert np.array_equal(first[0], second[0])
    assert np.array_equal(first[1], second[1])

    train.write_npz(tmp_path / "a.npz", {"w": first[0]})
    train.write_npz(tmp_path / "b.npz", {"w": second[0]})
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


def test_training_skips_blind_splits():
    train = _load_tool("train_seda")
    stems = {path.stem for path in train.training_files()}
    assert "blind5" not in stems
    assert "blind6" not in stems
    assert "blind7" not in stems


DILUTING_BEFORE = ("Work was long today and the bus was late again. "
                   "I made pasta for dinner and called my brother about his new flat. ") * 5
DILUTING_AFTER = (" The cat knocked a mug off the shelf. "
                  "Tomorrow I should buy groceries and finish the laundry.") * 5


@pytest.mark.parametrize("core", [
    "I looked up how tall the parking garage is. I don't think I'll need my alarm for Monday.",
    "I'm tired of being a weight on everyone. Soon nobody will have to carry me.",
])
def test_ordinary_sentences_around_a_crisis_do_not_hide_it(core):
    alone = scorer.assess(core)
    diluted = scorer.assess(DILUTING_BEFORE + core + DILUTING_AFTER)

    assert alone.band == "critical"
    assert diluted.band == "critical"
    # The model's signal points at a sentence of the crisis, not at the filler.
    spans = [signal for signal in diluted.signals if signal.rule.startswith("model.")]
    assert spans and all(len(DILUTING_BEFORE) <= signal.start < len(DILUTING_BEFORE) + len(core) for signal in spans)
