"""Fine-tuned encoder of the SEDA scorer: a small transformer that reads meaning, not cue words.

The encoder is the first LAYERS layers of all-MiniLM-L6-v2 with a mean-pooled
linear head over the four bands, fine-tuned on the SEDA training texts by
tools/train_seda_encoder.py. The layers are exported to ONNX with int8 weight
matrices (ONNX Runtime's dynamic quantization: activations are quantized per call);
the word embeddings, looked up here, are int8 rows with one scale each. It reads
the text as written (its tokenizer lower-cases and strips accents), and the scorer
runs it only on text in a supported language. The scorer turns its band
probabilities into a maximum score, like the n-gram model's, so it can only raise
risk.

A text of more than WINDOW_TOKENS tokens is read in overlapping windows of that
size, and each band takes its highest probability over the windows (see
riskiest_probabilities), so a crisis buried in a long entry is not diluted.

Inference runs in ONNX Runtime on one thread per call; the runtime releases the
GIL, so the service's other threads (health checks) run meanwhile.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import pathlib

import numpy as np

from services.seda import model as seda_model

DATA_DIR = seda_model.DATA_DIR
WEIGHTS_PATH = DATA_DIR / "seda_encoder.onnx"
EMBEDDINGS_PATH = DATA_DIR / "seda_encoder_embeddings.npz"
TOKENIZER_PATH = DATA_DIR / "seda_encoder_tokenizer.json"
META_PATH = DATA_DIR / "seda_encoder.json"
ENCODER_VERSION = "seda-encoder-2026.12.18"
BANDS = seda_model.BANDS

# Layers of all-MiniLM-L6-v2 that the encoder keeps. The cost of a call grows in proportion.
LAYERS = 3
# Highest share of a text's tokens that may be unknown to the vocabulary for the
# encoder to read it. Emoji, look-alike letters and most scripts other than Latin
# are unknown, and the training texts that hold many of them are mostly risky, so
# the encoder learned the unknown token as a cue. The rules read such texts.
MAX_UNKNOWN_SHARE = 0.2
# Texts of fewer words are left to the rules. Few training texts are that short,
# and the encoder scored greetings ("hello", "hi") caution. Out of fold the limit
# costs about 0.002 of critical recall.
MIN_WORDS = 6
# Tokens of one window, [CLS] and [SEP] included, and the step between windows.
WINDOW_TOKENS = 256
WINDOW_STRIDE = 192


class Tokenizer:
    """The base model's WordPiece tokenizer, cutting text into the windows the encoder reads."""

    def __init__(self, path: pathlib.Path = TOKENIZER_PATH) -> None:
        from tokenizers import Tokenizer as WordPiece

        self._wordpiece = WordPiece.from_file(str(path))
        self._wordpiece.no_padding()
        self._wordpiece.no_truncation()
        self._cls = self._wordpiece.token_to_id("[CLS]")
        self._sep = self._wordpiece.token_to_id("[SEP]")
        self._unknown = self._wordpiece.token_to_id("[UNK]")

    def _content(self, text: str) -> list[int]:
        return self._wordpiece.encode(text, add_special_tokens=False).ids

    def readable(self, text: str) -> bool:
        """Tell whether at most MAX_UNKNOWN_SHARE of the text's tokens are unknown to the vocabulary."""
        content = self._content(text)
        unknown = sum(1 for token in content if token == self._unknown)
        return unknown <= MAX_UNKNOWN_SHARE * len(content)

    def windows(self, text: str) -> list[list[int]]:
        """Return the token ids of each window of ``text``, [CLS] and [SEP] included (at least one window)."""
        content = self._content(text)
        size = WINDOW_TOKENS - 2
        starts = range(0, max(1, len(content) - size + WINDOW_STRIDE), WINDOW_STRIDE)
        windows = []
        for start in starts:
            windows.append([self._cls, *content[start:start + size], self._sep])
            if start + size >= len(content):
                break
        return windows


def riskiest_probabilities(rows: np.ndarray) -> np.ndarray:
    """Combine the band probabilities of several windows into those of the text.

    The thresholds read P(critical), P(critical) + P(caution) and 1 - P(clear)
    (seda_model.band_for). Each of these sums takes its highest value over the
    windows, so the text reaches every band that one of its windows reaches.
    """
    cumulative = np.cumsum(rows[:, :3], axis=1).max(axis=0)
    return np.array([cumulative[0], cumulative[1] - cumulative[0], cumulative[2] - cumulative[1],
                     1.0 - cumulative[2]])


@dataclasses.dataclass(frozen=True)
class EncoderResult:
    """Band probabilities of a text (its riskiest windows) and the band its thresholds give."""

    probabilities: dict[str, float]
    band: str


class Encoder:
    """The ONNX session, tokenizer and thresholds of the fine-tuned encoder."""

    def __init__(self, weights: pathlib.Path, embeddings: pathlib.Path, tokenizer: Tokenizer,
                 thresholds: seda_model.Thresholds, version: str) -> None:
        import onnxruntime

        with np.load(embeddings, allow_pickle=False) as archive:
            self._rows = archive["rows"]
            self._scales = archive["scales"]
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(weights), options, providers=["CPUExecutionProvider"])
        self.tokenizer = tokenizer
        self.thresholds = thresholds
        self.version = version

    @classmethod
    def load(cls, weights: pathlib.Path = WEIGHTS_PATH, embeddings: pathlib.Path = EMBEDDINGS_PATH,
             meta: pathlib.Path = META_PATH, tokenizer: pathlib.Path = TOKENIZER_PATH) -> "Encoder":
        """Load the files that tools/train_seda_encoder.py wrote. Raises FileNotFoundError when one is missing."""
        for path in (weights, embeddings, meta, tokenizer):
            if not path.is_file():
                raise FileNotFoundError(f"SEDA encoder file {path} is missing. Run make train-seda-encoder to write it.")
        details = json.loads(meta.read_text(encoding="utf-8"))
        return cls(weights, embeddings, Tokenizer(tokenizer), seda_model.Thresholds(**details["thresholds"]),
                   details["version"])

    def window_probabilities(self, windows: list[list[int]]) -> np.ndarray:
        """Band probabilities of each window, (len(windows), 4), in one run.

        Shorter windows are padded; the attention mask keeps the padding out of
        both the attention and the mean over tokens.
        """
        length = max(len(window) for window in windows)
        ids = np.zeros((len(windows), length), dtype=np.int64)
        mask = np.zeros((len(windows), length), dtype=np.int64)
        for row, window in enumerate(windows):
            ids[row, :len(window)] = window
            mask[row, :len(window)] = 1
        vectors = self._rows[ids] * self._scales[ids, None]  # int8 times float32 is float32
        (logits,) = self._session.run(None, {"inputs_embeds": vectors, "attention_mask": mask})
        return seda_model.softmax(logits.astype(np.float64))

    def predict(self, text: str) -> EncoderResult:
        """Read ``text`` window by window and return its probabilities and band.

        The caller checks Tokenizer.readable first; the scorer runs the encoder only then.
        """
        probabilities = riskiest_probabilities(self.window_probabilities(self.tokenizer.windows(text)))
        return EncoderResult(dict(zip(BANDS, (float(p) for p in probabilities))),
                             seda_model.band_for(probabilities, self.thresholds))


@functools.lru_cache(maxsize=1)
def default_encoder() -> Encoder:
    """Load the committed encoder once per process."""
    return Encoder.load()
