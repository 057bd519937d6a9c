"""Tests of the SEDA encoder: the ONNX export against PyTorch, token windows, and its place in the scorer."""

import json

import numpy as np
import pytest

from services.seda import encoder as seda_encoder
from services.seda import model as seda_model
from services.seda import scorer

BAND_ORDER = {band.name: index for index, band in enumerate(scorer.BANDS)}
# Largest difference allowed between the probabilities that ONNX Runtime gives the
# probe texts here and those that tools/train_seda_encoder.py recorded from the same
# files when it exported them. Other CPUs may run other int8 kernels.
RUNTIME_TOLERANCE = 0.01
# Largest difference allowed between those recorded probabilities and PyTorch's
# float32 ones. The int8 weights move a text near a band boundary most: 0.22 on
# the watch probe of seda-encoder-2026.12.18, in the same likeliest band.
INT8_TOLERANCE = 0.25
# Largest difference allowed between two runs of one window in different calls.
QUANTIZATION_SLACK = 0.01


@pytest.fixture(scope="module")
def encoder():
    return seda_encoder.default_encoder()


@pytest.fixture(scope="module")
def meta():
    return json.loads(seda_encoder.META_PATH.read_text(encoding="utf-8"))


def test_files_load(encoder, meta):
    assert encoder.version == seda_encoder.ENCODER_VERSION == meta["version"]
    thresholds = encoder.thresholds
    assert 0.0 < thresholds.critical <= 1.0
    assert 0.0 < thresholds.caution <= 1.0
    assert 0.0 < thresholds.watch <= 1.0


def test_file_sizes():
    # Three layers with int8 weights: about 6 MB. The word embeddings as int8 rows: about 11 MB.
    assert seda_encoder.WEIGHTS_PATH.stat().st_size < 8_000_000
    assert seda_encoder.EMBEDDINGS_PATH.stat().st_size < 12_500_000


def test_onnx_runtime_reproduces_the_export(encoder, meta):
    assert len(meta["probes"]) >= 5
    for probe in meta["probes"]:
        got = encoder.predict(probe["text"]).probabilities
        expected = dict(zip(seda_model.BANDS, probe["probabilities"]))
        for band in seda_model.BANDS:
            assert abs(got[band] - expected[band]) <= RUNTIME_TOLERANCE, (probe["text"][:30], band, got, expected)


def test_int8_export_stays_near_pytorch(meta):
    for probe in meta["probes"]:
        int8, float32 = np.array(probe["probabilities"]), np.array(probe["float32_probabilities"])
        assert np.abs(int8 - float32).max() <= INT8_TOLERANCE, (probe["text"][:30], int8, float32)
        assert np.argmax(int8) == np.argmax(float32), probe["text"][:30]


def test_probes_cover_both_ends(meta):
    # The parity check means little if every probe sits in one band.
    riskiest = [int(np.argmax(probe["probabilities"])) for probe in meta["probes"]]
    assert 0 in riskiest
    assert 3 in riskiest


def test_missing_files_raise(tmp_path):
    with pytest.raises(FileNotFoundError, match="make train-seda-encoder"):
        seda_encoder.Encoder.load(weights=tmp_path / "absent.onnx")


def test_short_text_is_one_window(encoder):
    windows = encoder.tokenizer.windows("I can't do this anymore.")
    assert len(windows) == 1
    assert windows[0][0] == encoder.tokenizer.windows("")[0][0]
    assert len(encoder.tokenizer.windows("")[0]) == 2  # [CLS] [SEP]


def test_long_text_windows_cover_every_token(encoder):
    tokenizer = encoder.tokenizer
    text = " ".join(f"word{n}" for n in range(900))
    windows = tokenizer.windows(text)
    content = tokenizer._content(text)
    assert len(windows) > 2
    size = seda_encoder.WINDOW_TOKENS - 2
    for number, window in enumerate(windows):
        assert len(window) <= seda_encoder.WINDOW_TOKENS
        assert window[1:-1] == content[number * seda_encoder.WINDOW_STRIDE:number * seda_encoder.WINDOW_STRIDE + size]
    assert windows[-1][-2] == content[-1]


def test_riskiest_probabilities_keep_each_band_reached():
    rows = np.array([[0.10, 0.05, 0.05, 0.80],
                     [0.02, 0.60, 0.18, 0.20],
                     [0.01, 0.01, 0.90, 0.08]])
    combined = seda_encoder.riskiest_probabilities(rows)
    assert combined == pytest.approx([0.10, 0.52, 0.30, 0.08])
    assert combined.sum() == pytest.approx(1.0)
    thresholds = seda_model.Thresholds(critical=0.5, caution=0.6, watch=0.9)
    # The second window alone reaches caution, the third alone watch: the text reaches caution.
    assert seda_model.band_for(combined, thresholds) == "caution"


def test_crisis_buried_in_a_long_entry_is_read(encoder):
    # "bread" is one token, so the crisis starts at token WINDOW_STRIDE, where the
    # second window starts. That window contains the crisis alone, as the short text does.
    crisis = "I have saved up my pills and tonight I am going to take all of them so this ends. " * 4
    filler = "bread " * seda_encoder.WINDOW_STRIDE
    windows = encoder.tokenizer.windows(filler + crisis)
    assert len(windows) == 2
    assert windows[1] == encoder.tokenizer.windows(crisis)[0]
    alone = encoder.predict(crisis).probabilities
    buried = encoder.predict(filler + crisis).probabilities
    # The int8 layers quantize the activations of all windows of a call with one
    # scale, so the same window may come out slightly different beside another.
    assert buried["critical"] >= alone["critical"] - QUANTIZATION_SLACK
    assert buried["critical"] + buried["caution"] >= alone["critical"] + alone["caution"] - QUANTIZATION_SLACK


def test_unreadable_text_is_left_to_the_rules(encoder):
    assert encoder.tokenizer.readable("I walked the dog and made soup.")
    assert not encoder.tokenizer.readable("a" * 300)  # one word over WordPiece's length limit
    assert not encoder.tokenizer.readable("\U0001f622\U0001f622\U0001f494 tonight")
    assert not encoder.tokenizer.readable("\u0455\u0435\u0445 \u0430nd \u0455u\u0456\u0441\u0456d\u0435")


class _ClearEncoder:
    """Stands in for the encoder to score a text as if the encoder found nothing."""

    tokenizer = seda_encoder.default_encoder().tokenizer

    def predict(self, text):
        return seda_encoder.EncoderResult(dict.fromkeys(seda_model.BANDS, 0.0) | {"clear": 1.0}, "clear")


class _Refusing:
    """Stands in for the encoder to fail a test that expects the scorer not to run it."""

    tokenizer = seda_encoder.default_encoder().tokenizer

    def __init__(self, message):
        self.message = message

    def predict(self, text):
        raise AssertionError(self.message)


# Oblique texts that the rules may leave below critical, and ordinary ones.
CANDIDATES = (
    "Gave my cat to my sister yesterday because I won't be around to look after him much longer.",
    "Everyone will be better off soon. I've made my peace with it and sorted out the paperwork for them.",
    "I keep thinking about how quiet it would be if I just stopped. The bottle is in the drawer.",
    "I cleaned my room, paid back what I owed, and left notes for the people I love. It's nearly time.",
    "Spent the afternoon repotting plants and listening to an old podcast about whales.",
    "My horoscope said to expect change this month, so I signed up for a pottery class.",
)


def test_encoder_only_raises_risk(monkeypatch):
    with_encoder = [scorer.assess(text) for text in CANDIDATES]
    monkeypatch.setattr(scorer, "_ENCODER", _ClearEncoder())
    without = [scorer.assess(text) for text in CANDIDATES]
    for text, got, before in zip(CANDIDATES, with_encoder, without):
        assert got.score <= before.score, text
        if got.score == before.score:
            assert got.signals == before.signals, text


def test_encoder_band_is_explained_by_a_span(encoder, monkeypatch):
    raised = []
    for text in CANDIDATES:
        got = scorer.assess(text)
        with monkeypatch.context() as patch:
            patch.setattr(scorer, "_ENCODER", _ClearEncoder())
            before = scorer.assess(text)
        if BAND_ORDER[got.band] < BAND_ORDER[before.band]:
            raised.append((text, got))
    # If the encoder raised none of them, this test would check nothing.
    assert raised, "the encoder raised none of the candidate texts"
    for text, got in raised:
        model_signals = [signal for signal in got.signals if signal.rule.startswith("model.")]
        assert len(model_signals) == 1, text
        signal = model_signals[0]
        assert 0 <= signal.start < signal.end <= len(text)
        assert text[signal.start:signal.end].strip() == text[signal.start:signal.end]
        assert signal.category in seda_model.BAND_CATEGORIES[got.band]


def test_explain_names_a_sentence_for_any_band():
    model = seda_model.default_model()
    folded = "Fine morning. Then I wrote letters to everyone I love and put them on the table."
    for band in ("critical", "caution", "watch"):
        result = model.explain(folded, band)
        assert result.band == band
        assert result.category in seda_model.BAND_CATEGORIES[band]
        assert folded[result.start:result.end].strip() == folded[result.start:result.end]
        assert result.end > result.start
    # A text with no features ("!!!" has no word and no character n-gram) is its own span.
    bare = model.explain("!!!", "watch")
    assert (bare.start, bare.end) == (0, 3)


def test_text_in_another_language_is_not_read(monkeypatch):
    monkeypatch.setattr(scorer, "_ENCODER", _Refusing("the encoder read text in an unsupported language"))
    assessment = scorer.assess("Ich kann nicht mehr, ich will einfach nur schlafen und nie wieder aufwachen.")
    assert not assessment.language_supported
    with pytest.raises(AssertionError, match="unsupported language"):
        scorer.assess("I went for a long walk by the river and fed the ducks with my niece.")


def test_critical_text_skips_the_encoder(monkeypatch):
    monkeypatch.setattr(scorer, "_ENCODER", _Refusing("the encoder ran on a text the rules already scored critical"))
    assert scorer.assess("I am going to kill myself tonight. I wrote the goodbye letters.").band == "critical"


def test_short_text_is_left_to_the_rules(monkeypatch):
    monkeypatch.setattr(scorer, "_ENCODER", _Refusing("the encoder read a text under its word limit"))
    assert scorer.assess("hello").band == "clear"
    assert scorer.assess("Went for a walk.").band == "clear"
    with pytest.raises(AssertionError, match="word limit"):
        scorer.assess("Went for a long walk by the river today.")
