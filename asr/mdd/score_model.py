"""A learned pronunciation score model: speechocean762's expert scores predicted from the assessor's evidence.

The heuristic scores of :mod:`asr.mdd.scores` rescale the mean posterior and fit nothing. Here the same
diagnosis is turned into features and a linear model per level is fitted to the experts:

1. :func:`extract_features` diagnoses each cut and keeps one row per *corpus* canonical phone (carried over
   from the assessor's phones by the same phonetic alignment :func:`asr.mdd.scores.diagnosis_scores` uses):
   GOP (already the log-posterior ratio of the canonical phone against its best competitor), the mean
   posterior, the duration in frames, the recogniser's verdict, whether the phone had a counterpart at
   all, the word's mean and minimum GOP, the phone's position in its word, and its identity (one-hot over
   the 39 ARPAbet phones). Each word and utterance also gets a row of its own evidence (duration, inserted
   phones; speech rate and pauses between words, which are what fluency is judged on). A
   :class:`FeatureSet` is saved as ``.npz`` (no pickles) so one diagnosis pass serves many fits.
2. :func:`fit_score_model` fits ridge regressions bottom-up: phone accuracy (0-2) from the phone rows; word
   accuracy and total (0-10) from the word's row plus the mean and minimum of its predicted phone scores;
   sentence accuracy, completeness, fluency, prosodic and total from the utterance's row plus the pooled
   predicted word and phone scores. The lower level's predictions that train the upper level are
   out-of-fold (grouped by utterance), so the upper level learns how much to trust predictions it will
   really get, not ones fitted to its own training rows. Each ridge's strength is chosen by the same
   grouped cross-validation. Linear models because the scored sample is a few dozen utterances: a GOPT-style
   Transformer has far more parameters than there are scored phones to fit them.
3. :class:`ScoreModel` is stored as one JSON file of coefficients (``score_model.json``), read strictly
   (every key checked), so loading a model never runs code from the file; :meth:`ScoreModel.predict`
   refuses features of another phone set or layout and writes scores in :func:`asr.mdd.scores.write_scores`'s
   shape, which ``asr score pronunciation --hyp`` reads.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from asr.errors import UserError
from asr.files import write_atomic
from asr.scoring.pronunciation import pearson
from asr.text.phones import ARPABET_PHONES, strip_stress

from .diagnosis import Diagnosis, DiagnosisError, PronunciationAssessor
from .model_card import card_path
from .scores import counterparts

FEATURES_FORMAT = "asr-score-features"
MODEL_FORMAT = "asr-score-model"
VERSION = 1
MODEL_FILE = "score_model.json"
#: Sentence aspects of speechocean762 in the order of :attr:`FeatureSet.utt_y`.
SENTENCE_ASPECTS = ("accuracy", "completeness", "fluency", "prosodic", "total")
#: Word aspects in the order of :attr:`FeatureSet.word_y`; stress is not modelled (see ``WORD_TARGETS``).
WORD_ASPECTS = ("accuracy", "stress", "total")
#: Word aspects the model predicts: stress is 10 for almost every word and the assessor sees no stress.
WORD_TARGETS = ("accuracy", "total")
#: The scale each predicted aspect is clipped to (the corpus's normalised scales).
RANGES = {"phone": (0.0, 2.0), "word": (0.0, 10.0), "sentence": (0.0, 10.0), "completeness": (0.0, 1.0)}
#: Ridge strengths tried by grouped cross-validation; features are standardised, so one grid serves all.
ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0)
_STATUSES = ("correct", "substituted", "deleted")

PHONE_FEATURES: tuple[str, ...] = (
    "gop",
    "posterior",
    "frames",
    *(f"status_{s}" for s in _STATUSES),
    "matched",
    "word_gop_mean",
    "word_gop_min",
    "word_posterior_mean",
    "position",
    "first",
    "last",
    "word_phones",
    *(f"phone_{p}" for p in ARPABET_PHONES),
)
WORD_FEATURES: tuple[str, ...] = (
    "frames",
    "phones",
    "inserted",
    "g2p",
    "gop_mean",
    "gop_min",
    "posterior_mean",
    "not_correct",
    "unmatched",
)
UTT_FEATURES: tuple[str, ...] = (
    "seconds",
    "words",
    "completeness",
    "phones_per_second",
    "gap_mean",
    "gap_max",
    "inserted_per_phone",
    "gop_mean",
)
#: What the model adds to a word's and an utterance's own features: its predicted lower-level scores.
WORD_POOLED = ("pred_phone_mean", "pred_phone_min")
UTT_POOLED = ("pred_word_accuracy_mean", "pred_word_accuracy_min", "pred_phone_mean", "pred_phone_min")


class ScoreModelError(UserError):
    """Features or a score model that cannot be used: the message names the file and the field."""


# -- features ---------------------------------------------------------------------------------------------
@dataclass
class FeatureSet:
    """Features of the canonical phones, words and utterances of scored recordings, with the experts' scores
    where the cuts carry them (NaN where not). Rows are in utterance, word, phone order."""

    phone_x: np.ndarray  # [N, len(PHONE_FEATURES)]
    phone_utt: np.ndarray  # [N] utterance id
    phone_word: np.ndarray  # [N] word index in the utterance
    phone_pos: np.ndarray  # [N] phone index in the word
    phone_label: np.ndarray  # [N] canonical phone (no stress)
    phone_y: np.ndarray  # [N] experts' phone accuracy, NaN when unknown
    word_x: np.ndarray  # [W, len(WORD_FEATURES)]
    word_utt: np.ndarray  # [W]
    word_index: np.ndarray  # [W]
    word_text: np.ndarray  # [W]
    word_y: np.ndarray  # [W, len(WORD_ASPECTS)]
    utt_x: np.ndarray  # [U, len(UTT_FEATURES)]
    utt_id: np.ndarray  # [U]
    utt_y: np.ndarray  # [U, len(SENTENCE_ASPECTS)]
    meta: dict[str, Any]

    def save(self, path: Path) -> None:
        """As one ``.npz`` (strings as unicode arrays, so it loads without pickle), written atomically."""
        buf = io.BytesIO()
        arrays = {k: getattr(self, k) for k in _ARRAYS}
        np.savez_compressed(buf, meta=np.array(json.dumps(self.meta)), **arrays)
        write_atomic(Path(path), buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> FeatureSet:
        """Read a saved set strictly: every array present, no other, shapes consistent."""
        path = Path(path)
        if not path.is_file():
            raise ScoreModelError(f"features not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                stored = {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise ScoreModelError(f"{path}: not a readable feature file ({exc})") from None
        _check_keys(stored, ("meta", *_ARRAYS), str(path))
        meta = json.loads(str(stored.pop("meta")))
        _check_keys(meta, _META_KEYS, f"{path}: meta")
        if meta["format"] != FEATURES_FORMAT or meta["version"] != VERSION:
            raise ScoreModelError(
                f"{path}: format {meta['format']!r} version {meta['version']}, expected "
                f"{FEATURES_FORMAT!r} version {VERSION}"
            )
        fs = cls(**stored, meta=meta)
        fs.check(str(path))
        return fs

    def check(self, where: str) -> None:
        """Row counts agree and the widths match the feature names in ``meta``."""
        for prefix, names in (
            ("phone", "phone_features"),
            ("word", "word_features"),
            ("utt", "utt_features"),
        ):
            x = getattr(self, f"{prefix}_x")
            if x.ndim != 2 or x.shape[1] != len(self.meta[names]):
                raise ScoreModelError(
                    f"{where}: {prefix}_x has shape {x.shape}, meta names {len(self.meta[names])}"
                )
        for prefix, keys in (
            ("phone", ("phone_utt", "phone_word", "phone_pos", "phone_label", "phone_y")),
            ("word", ("word_utt", "word_index", "word_text", "word_y")),
            ("utt", ("utt_id", "utt_y")),
        ):
            n = len(getattr(self, f"{prefix}_x"))
            bad = [k for k in keys if len(getattr(self, k)) != n]
            if bad:
                raise ScoreModelError(f"{where}: {', '.join(bad)} do not have the {n} rows of {prefix}_x")

    def subset(self, utts: Iterable[str]) -> FeatureSet:
        """Only the rows of ``utts`` (e.g. one split of the corpus)."""
        keep = set(utts)
        p, w, u = (np.isin(a, list(keep)) for a in (self.phone_utt, self.word_utt, self.utt_id))
        return FeatureSet(
            **{k: getattr(self, k)[{"phone": p, "word": w, "utt": u}[k.split("_")[0]]] for k in _ARRAYS},
            meta=dict(self.meta),
        )

    @classmethod
    def concat(cls, sets: Sequence[FeatureSet], where: str = "features") -> FeatureSet:
        """The rows of several sets (e.g. both splits), which must share the layout and hold no utterance
        twice."""
        if not sets:
            raise ScoreModelError(f"{where}: no feature sets to join")
        layout = ("format", "version", "phones", "phone_features", "word_features", "utt_features")
        first = sets[0].meta
        for fs in sets[1:]:
            differ = [k for k in layout if fs.meta[k] != first[k]]
            if differ:
                raise ScoreModelError(f"{where}: the feature sets differ in {', '.join(differ)}")
        ids = [u for fs in sets for u in fs.utt_id.tolist()]
        twice = sorted({u for u in ids if ids.count(u) > 1})
        if twice:
            raise ScoreModelError(f"{where}: utterances in more than one set: {', '.join(twice[:5])}")
        meta = {**first, "source": [fs.meta["source"] for fs in sets]}
        return cls(**{k: np.concatenate([getattr(fs, k) for fs in sets]) for k in _ARRAYS}, meta=meta)


_ARRAYS = tuple(f for f in FeatureSet.__dataclass_fields__ if f != "meta")
_META_KEYS = ("format", "version", "phones", "phone_features", "word_features", "utt_features", "source")


def _check_keys(obj: Mapping[str, Any], expected: Sequence[str], where: str) -> None:
    """Strict reading: a missing or an unexpected key is an error naming them."""
    if not isinstance(obj, Mapping):
        raise ScoreModelError(f"{where}: expected an object, got {type(obj).__name__}")
    missing = [k for k in expected if k not in obj]
    extra = sorted(set(obj) - set(expected))
    if missing or extra:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unexpected {', '.join(extra)}"] if extra else []
        )
        raise ScoreModelError(f"{where}: {'; '.join(parts)}")


def diagnosis_features(
    d: Diagnosis, canonical_words: list[list[str]] | None = None, frame_shift: float = 0.02
) -> tuple[list[list[float]], list[str], list[list[float]], list[float]]:
    """One diagnosis as ``(phone rows, their phones, word rows, utterance row)`` in the layouts of
    ``PHONE_FEATURES``, ``WORD_FEATURES`` and ``UTT_FEATURES``; phone rows are per corpus canonical phone of
    ``canonical_words`` (the assessor's own phones when None), word by word."""
    if canonical_words is not None and len(canonical_words) != len(d.words):
        raise DiagnosisError(f"the prompt gives {len(d.words)} words, the corpus {len(canonical_words)}")
    index = {p: i for i, p in enumerate(ARPABET_PHONES)}
    phone_rows, labels, word_rows = [], [], []
    n_inserted = n_phones = 0
    for i, w in enumerate(d.words):
        judged = [p for p in w.phones if p.phone is not None and p.gop is not None and p.score is not None]
        if not judged:
            raise DiagnosisError(f"word {i} ({w.word}) has no judged phone")
        own = [p.phone for p in judged]
        canonical = [strip_stress(p) for p in canonical_words[i]] if canonical_words is not None else own
        gops = [float(p.gop) for p in judged]  # type: ignore[arg-type]
        posts = [float(p.score) / 100 for p in judged]  # type: ignore[arg-type]
        frames = [(p.end - p.start) / frame_shift for p in judged]
        gop_mean, gop_min, post_mean = float(np.mean(gops)), float(np.min(gops)), float(np.mean(posts))
        pairs = counterparts(canonical, own)
        n = len(canonical)
        for j, (phone, k) in enumerate(zip(canonical, pairs, strict=True)):
            if phone not in index:
                raise DiagnosisError(f"word {i} ({w.word}): {phone!r} is not one of the 39 ARPAbet phones")
            status = [0.0] * len(_STATUSES)
            if k is None:  # no evidence of its own: the word's, flagged by matched = 0
                evidence = [gop_mean, post_mean, float(np.mean(frames))]
            else:
                evidence = [gops[k], posts[k], frames[k]]
                status[_STATUSES.index(judged[k].status)] = 1.0
            one_hot = [0.0] * len(ARPABET_PHONES)
            one_hot[index[phone]] = 1.0
            phone_rows.append(
                [
                    *evidence,
                    *status,
                    float(k is not None),
                    gop_mean,
                    gop_min,
                    post_mean,
                    j / (n - 1) if n > 1 else 0.0,
                    float(j == 0),
                    float(j == n - 1),
                    float(n),
                    *one_hot,
                ]
            )
            labels.append(phone)
        inserted = sum(p.phone is None for p in w.phones)
        n_inserted += inserted
        n_phones += n
        word_rows.append(
            [
                (w.end - w.start) / frame_shift,
                float(n),
                float(inserted),
                float(w.g2p),
                gop_mean,
                gop_min,
                post_mean,
                float(np.mean([p.status != "correct" for p in judged])),
                float(sum(k is None for k in pairs)) / n,
            ]
        )
    span = max(d.words[-1].end - d.words[0].start, frame_shift)
    gaps = [max(b.start - a.end, 0.0) for a, b in zip(d.words, d.words[1:], strict=False)] or [0.0]
    utt_row = [
        d.duration,
        float(len(d.words)),
        d.completeness / 100,
        n_phones / span,
        float(np.mean(gaps)),
        float(np.max(gaps)),
        n_inserted / n_phones,
        float(np.mean([r[0] for r in phone_rows])),
    ]
    return phone_rows, labels, word_rows, utt_row


def _nan(value: Any) -> float:
    return math.nan if value is None else float(value)


def extract_features(
    assessor: PronunciationAssessor, cuts: Iterable, progress: bool = True, source: str = ""
) -> tuple[FeatureSet, list[tuple[str, str]]]:
    """Diagnose every cut (one supervision each, its text the prompt) into a :class:`FeatureSet` keyed by
    the supervision id, with the experts' scores of ``custom["scores"]`` as targets where present;
    ``skipped`` lists ``(utterance id, why)`` for recordings the assessor could not judge."""
    cols: dict[str, list] = {k: [] for k in _ARRAYS}
    skipped = []
    for cut in tqdm(list(cuts), desc="features", disable=not progress):
        sup = cut.supervisions[0]
        custom = sup.custom or {}
        try:
            d = assessor.diagnose_samples(cut.load_audio()[0], cut.sampling_rate, sup.text)
            _add_utterance(
                cols,
                sup.id,
                d,
                custom.get("canonical_words"),
                assessor.model_frame_shift,
                custom.get("scores"),
            )
        except DiagnosisError as exc:
            skipped.append((sup.id, str(exc)))
    if not cols["utt_id"]:
        raise DiagnosisError(
            "no recording could be diagnosed: " + "; ".join(f"{u}: {w}" for u, w in skipped[:3])
        )
    return _feature_set(cols, _meta({"model": assessor.model_name, "cuts": source})), skipped


def _meta(source: Any) -> dict[str, Any]:
    return {
        "format": FEATURES_FORMAT,
        "version": VERSION,
        "phones": list(ARPABET_PHONES),
        "phone_features": list(PHONE_FEATURES),
        "word_features": list(WORD_FEATURES),
        "utt_features": list(UTT_FEATURES),
        "source": source,
    }


def _add_utterance(
    cols: dict[str, list],
    utt_id: str,
    d: Diagnosis,
    canonical_words: list[list[str]] | None,
    frame_shift: float,
    scores: Mapping[str, Any] | None = None,
) -> None:
    """Append one diagnosis's rows to ``cols``, with the experts' ``scores`` as targets (NaN without);
    :class:`DiagnosisError` (nothing appended) when they cannot be lined up with the prompt's words."""
    phones, labels, words, utt = diagnosis_features(d, canonical_words, frame_shift)
    scores = scores or {}
    ref_words = scores.get("words") or [{} for _ in d.words]
    if len(ref_words) != len(d.words):
        raise DiagnosisError(f"the experts score {len(ref_words)} words, the prompt has {len(d.words)}")
    word_of = [i for i, w in enumerate(words) for _ in range(int(w[1]))]
    pos_of = [j for w in words for j in range(int(w[1]))]
    for row, label, i, j in zip(phones, labels, word_of, pos_of, strict=True):
        acc = ref_words[i].get("phone_accuracy")
        cols["phone_x"].append(row)
        cols["phone_utt"].append(utt_id)
        cols["phone_word"].append(i)
        cols["phone_pos"].append(j)
        cols["phone_label"].append(label)
        # None where the experts' transcriptions did not line up with the canonical phones
        known = acc is not None and len(acc) == int(words[i][1])
        cols["phone_y"].append(_nan(acc[j]) if known else math.nan)
    for i, (row, w) in enumerate(zip(words, d.words, strict=True)):
        cols["word_x"].append(row)
        cols["word_utt"].append(utt_id)
        cols["word_index"].append(i)
        cols["word_text"].append(w.word.upper())
        cols["word_y"].append([_nan(ref_words[i].get(a)) for a in WORD_ASPECTS])
    cols["utt_x"].append(utt)
    cols["utt_id"].append(utt_id)
    cols["utt_y"].append([_nan(scores.get(a)) for a in SENTENCE_ASPECTS])


def diagnosis_feature_set(d: Diagnosis, frame_shift: float = 0.02, utt_id: str = "utterance") -> FeatureSet:
    """One diagnosis (the app's, say) as a one-utterance :class:`FeatureSet` over its own canonical phones."""
    cols: dict[str, list] = {k: [] for k in _ARRAYS}
    _add_utterance(cols, utt_id, d, None, frame_shift)
    return _feature_set(cols, _meta("one diagnosis"))


def _feature_set(cols: Mapping[str, list], meta: dict[str, Any]) -> FeatureSet:
    widths = {"phone_x": len(PHONE_FEATURES), "word_x": len(WORD_FEATURES), "utt_x": len(UTT_FEATURES)}
    arrays: dict[str, np.ndarray] = {}
    for k in _ARRAYS:
        if k in widths:
            arrays[k] = np.asarray(cols[k], dtype=np.float64).reshape(-1, widths[k])
        elif k == "word_y":
            arrays[k] = np.asarray(cols[k], dtype=np.float64).reshape(-1, len(WORD_ASPECTS))
        elif k == "utt_y":
            arrays[k] = np.asarray(cols[k], dtype=np.float64).reshape(-1, len(SENTENCE_ASPECTS))
        elif k in ("phone_word", "phone_pos", "word_index"):
            arrays[k] = np.asarray(cols[k], dtype=np.int64)
        elif k == "phone_y":
            arrays[k] = np.asarray(cols[k], dtype=np.float64)
        else:
            arrays[k] = np.asarray(cols[k], dtype=str)
    fs = FeatureSet(**arrays, meta=meta)
    fs.check("features")
    return fs


# -- the model --------------------------------------------------------------------------------------------
@dataclass
class Linear:
    """A ridge regression on standardised features, clipped to the aspect's scale."""

    alpha: float
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    low: float
    high: float
    rows: int
    #: Pearson correlation of the out-of-fold predictions with the targets (None: too few groups)
    cv_pcc: float | None

    def predict(self, x: np.ndarray) -> np.ndarray:
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return np.clip(z @ np.asarray(self.coef) + self.intercept, self.low, self.high)


_LINEAR_KEYS = tuple(Linear.__dataclass_fields__)
_MODEL_KEYS = ("format", "version", "phones", "features", "models", "trained_on")
_LEVELS = ("phone", "word", "sentence")


def _ridge(x: np.ndarray, y: np.ndarray, alpha: float, low: float, high: float) -> Linear:
    from sklearn.linear_model import Ridge

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0  # a constant feature (a phone absent from training) carries no weight
    r = Ridge(alpha=alpha).fit((x - mean) / scale, y)
    return Linear(
        alpha, mean.tolist(), scale.tolist(), r.coef_.tolist(), float(r.intercept_), low, high, len(y), None
    )


def _pcc(a: np.ndarray, b: np.ndarray) -> float | None:
    pcc, _ = pearson(a, b)
    return None if pcc is None else round(pcc, 4)


def _fit(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, low: float, high: float
) -> tuple[Linear, np.ndarray]:
    """A ridge with its strength chosen by grouped cross-validation (whole utterances held out), and its
    out-of-fold predictions (in-sample when there are too few utterances to fold)."""
    from sklearn.model_selection import GroupKFold

    folds = min(5, len(set(groups.tolist())))
    if folds < 2:
        return _ridge(x, y, 10.0, low, high), _ridge(x, y, 10.0, low, high).predict(x)
    splits = list(GroupKFold(n_splits=folds).split(x, y, groups))
    best: tuple[float, float, np.ndarray] | None = None
    for alpha in ALPHAS:
        oof = np.empty_like(y)
        for train, held in splits:
            oof[held] = _ridge(x[train], y[train], alpha, low, high).predict(x[held])
        err = float(np.mean((oof - y) ** 2))
        if best is None or err < best[0]:
            best = (err, alpha, oof)
    assert best is not None
    model = _ridge(x, y, best[1], low, high)
    model.cv_pcc = _pcc(y, best[2])
    return model, best[2]


def _pool(keys: Sequence[tuple], values: np.ndarray, into: Sequence[tuple]) -> np.ndarray:
    """Mean and minimum of ``values`` per key, in the order of ``into`` ([len(into), 2])."""
    by: dict[tuple, list[float]] = {}
    for k, v in zip(keys, values.tolist(), strict=True):
        by.setdefault(k, []).append(v)
    return np.array([[np.mean(by[k]), np.min(by[k])] for k in into], dtype=np.float64).reshape(-1, 2)


def _word_x(fs: FeatureSet, phone_pred: np.ndarray) -> np.ndarray:
    words = list(zip(fs.word_utt.tolist(), fs.word_index.tolist(), strict=True))
    pooled = _pool(list(zip(fs.phone_utt.tolist(), fs.phone_word.tolist(), strict=True)), phone_pred, words)
    return np.hstack([fs.word_x, pooled])


def _utt_x(fs: FeatureSet, phone_pred: np.ndarray, word_pred: np.ndarray) -> np.ndarray:
    utts = [(u,) for u in fs.utt_id.tolist()]
    words = _pool([(u,) for u in fs.word_utt.tolist()], word_pred, utts)
    phones = _pool([(u,) for u in fs.phone_utt.tolist()], phone_pred, utts)
    return np.hstack([fs.utt_x, words, phones])


def _range(level: str, aspect: str) -> tuple[float, float]:
    return RANGES["completeness"] if aspect == "completeness" else RANGES[level]


@dataclass
class ScoreModel:
    """Linear models per level and aspect (``"phone.accuracy"``, ``"word.total"``, ...) and the layout
    of the features they were fitted on."""

    phones: list[str]
    features: dict[str, list[str]]
    models: dict[str, Linear]
    trained_on: dict[str, Any]

    def check_features(self, fs: FeatureSet, where: str) -> None:
        """Refuse features of another phone set or layout than the model's."""
        if fs.meta["phones"] != self.phones:
            raise ScoreModelError(
                f"{where}: phone set differs from the model's ({_diff(self.phones, fs.meta['phones'])})"
            )
        for level, key, pooled in (
            ("phone", "phone_features", ()),
            ("word", "word_features", WORD_POOLED),
            ("sentence", "utt_features", UTT_POOLED),
        ):
            names = [*fs.meta[key], *pooled]
            if names != self.features[level]:
                raise ScoreModelError(
                    f"{where}: {level} features differ from the model's ({_diff(self.features[level], names)})"
                )

    def predict(self, fs: FeatureSet, where: str = "features") -> dict[str, dict[str, Any]]:
        """``{utterance id: scores}`` in :func:`asr.mdd.scores.write_scores`'s shape."""
        self.check_features(fs, where)
        phone = self.models["phone.accuracy"].predict(fs.phone_x)
        word_x = _word_x(fs, phone)
        word = {
            a: self.models[f"word.{a}"].predict(word_x) for a in WORD_TARGETS if f"word.{a}" in self.models
        }
        utt_x = _utt_x(fs, phone, word["accuracy"])
        out: dict[str, dict[str, Any]] = {}
        for n, utt in enumerate(fs.utt_id.tolist()):
            scores: dict[str, Any] = {"source": "asr score model"}
            for a in SENTENCE_ASPECTS:
                if f"sentence.{a}" in self.models:
                    scores[a] = round(float(self.models[f"sentence.{a}"].predict(utt_x[n : n + 1])[0]), 4)
            scores["words"] = []
            out[utt] = scores
        for n, (utt, text) in enumerate(zip(fs.word_utt.tolist(), fs.word_text.tolist(), strict=True)):
            w: dict[str, Any] = {"text": text, **{a: round(float(p[n]), 4) for a, p in word.items()}}
            w["phone_accuracy"] = []
            out[utt]["words"].append(w)
        for n, (utt, i) in enumerate(zip(fs.phone_utt.tolist(), fs.phone_word.tolist(), strict=True)):
            out[utt]["words"][i]["phone_accuracy"].append(round(float(phone[n]), 4))
        return out

    def describe(self) -> str:
        """How scores from this model are made, in words for the app."""
        t = self.trained_on
        return (
            f"score model: ridge regressions on the recogniser's GOP, posteriors and durations, fitted to "
            f"five experts' mean scores of {t.get('utterances', '?')} utterances of scored learners "
            "(speechocean762's scales)"
        )

    def score_diagnosis(self, d: Diagnosis, frame_shift: float) -> tuple[dict[str, Any], str]:
        """One diagnosis's scores on the experts' scales, and :meth:`describe` (an assessor's scorer)."""
        (scores,) = self.predict(diagnosis_feature_set(d, frame_shift), "the diagnosis").values()
        scores.pop("source", None)
        return scores, self.describe()

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "version": VERSION,
            "phones": self.phones,
            "features": self.features,
            "models": {k: vars(m) for k, m in self.models.items()},
            "trained_on": self.trained_on,
        }

    def save(self, model_dir: Path) -> Path:
        """``score_model.json`` in ``model_dir``, written atomically."""
        path = Path(model_dir) / MODEL_FILE
        write_atomic(path, (json.dumps(self.to_dict(), indent=1) + "\n").encode())
        return path

    @classmethod
    def load(cls, model_dir: Path) -> ScoreModel:
        """Read ``score_model.json`` strictly: every key of the model and of each regression checked."""
        path = Path(model_dir)
        if path.is_dir():
            path = path / MODEL_FILE
        if not path.is_file():
            raise ScoreModelError(f"score model not found: {path}")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ScoreModelError(f"{path}: not readable JSON ({exc})") from None
        _check_keys(raw, _MODEL_KEYS, str(path))
        if raw["format"] != MODEL_FORMAT or raw["version"] != VERSION:
            raise ScoreModelError(
                f"{path}: format {raw['format']!r} version {raw['version']}, expected {MODEL_FORMAT!r} {VERSION}"
            )
        _check_keys(raw["features"], _LEVELS, f"{path}: features")
        models = {}
        for name, m in raw["models"].items():
            where = f"{path}: models.{name}"
            _check_keys(m, _LINEAR_KEYS, where)
            level = name.split(".")[0]
            if level not in raw["features"]:
                raise ScoreModelError(f"{where}: unknown level {level!r}")
            width = len(raw["features"][level])
            if not all(len(m[k]) == width for k in ("mean", "scale", "coef")):
                raise ScoreModelError(f"{where}: mean/scale/coef do not have the {width} {level} features")
            models[name] = Linear(**m)
        required = ["phone.accuracy", "word.accuracy"]
        if missing := [k for k in required if k not in models]:
            raise ScoreModelError(f"{path}: models: missing {', '.join(missing)}")
        return cls(raw["phones"], raw["features"], models, raw["trained_on"])


def _diff(expected: Sequence[str], got: Sequence[str]) -> str:
    missing = [n for n in expected if n not in got]
    extra = [n for n in got if n not in expected]
    if not missing and not extra:
        return "same names in another order"
    return "; ".join(
        ([f"missing {', '.join(missing[:5])}"] if missing else [])
        + ([f"unexpected {', '.join(extra[:5])}"] if extra else [])
    )


def fit_score_model(fs: FeatureSet, source: str = "") -> ScoreModel:
    """Fit the levels bottom-up on a feature set with the experts' scores (see the module docstring)."""
    phone_ok = np.isfinite(fs.phone_y)
    if phone_ok.sum() < 2:
        raise ScoreModelError(f"{source or 'features'}: fewer than two phones with expert scores to fit on")
    models: dict[str, Linear] = {}
    models["phone.accuracy"], oof = _fit(
        fs.phone_x[phone_ok], fs.phone_y[phone_ok], fs.phone_utt[phone_ok], *RANGES["phone"]
    )
    phone = models["phone.accuracy"].predict(fs.phone_x)
    phone[phone_ok] = oof  # the upper levels learn from predictions like those they will get
    word_x = _word_x(fs, phone)
    word_pred = np.zeros(len(word_x))
    for k, a in enumerate(WORD_ASPECTS):
        ok = np.isfinite(fs.word_y[:, k])
        if a not in WORD_TARGETS or ok.sum() < 2:
            continue
        models[f"word.{a}"], oof = _fit(word_x[ok], fs.word_y[ok, k], fs.word_utt[ok], *RANGES["word"])
        if a == "accuracy":
            word_pred = models[f"word.{a}"].predict(word_x)
            word_pred[ok] = oof
    if "word.accuracy" not in models:
        raise ScoreModelError(f"{source or 'features'}: fewer than two words with expert accuracy to fit on")
    utt_x = _utt_x(fs, phone, word_pred)
    for k, a in enumerate(SENTENCE_ASPECTS):
        ok = np.isfinite(fs.utt_y[:, k])
        if ok.sum() >= 2:
            models[f"sentence.{a}"], _ = _fit(
                utt_x[ok], fs.utt_y[ok, k], fs.utt_id[ok], *_range("sentence", a)
            )
    return ScoreModel(
        phones=list(fs.meta["phones"]),
        features={
            "phone": list(fs.meta["phone_features"]),
            "word": [*fs.meta["word_features"], *WORD_POOLED],
            "sentence": [*fs.meta["utt_features"], *UTT_POOLED],
        },
        models=models,
        trained_on={
            "features": source,
            "utterances": len(fs.utt_id),
            "words": len(fs.word_utt),
            "phones": int(phone_ok.sum()),
            "extracted": fs.meta["source"],
        },
    )


def cross_validate(
    fs: FeatureSet, groups: Mapping[str, str], where: str = "features"
) -> dict[str, dict[str, Any]]:
    """Out-of-fold predictions for every utterance of ``fs``: for each group (a speaker, say) a model fitted
    on the other groups' utterances predicts that group's. ``groups``: utterance id -> group; every utterance
    needs one, and there must be two groups at least. The result has :meth:`ScoreModel.predict`'s shape, so
    ``asr score pronunciation`` scores all the utterances at once, each predicted by a model that never saw
    its speaker."""
    utts = fs.utt_id.tolist()
    missing = [u for u in utts if u not in groups]
    if missing:
        raise ScoreModelError(
            f"{where}: no group (speaker) for {len(missing)} utterances: {', '.join(missing[:5])}"
        )
    members: dict[str, list[str]] = {}
    for u in utts:
        members.setdefault(groups[u], []).append(u)
    if len(members) < 2:
        raise ScoreModelError(f"{where}: cross-validation needs two groups at least, got {sorted(members)}")
    out: dict[str, dict[str, Any]] = {}
    for group, held_out in sorted(members.items()):
        rest = [u for u in utts if groups[u] != group]
        model = fit_score_model(fs.subset(rest), f"{where} without {group}")
        out.update(model.predict(fs.subset(held_out), f"{where}: {group}"))
    return out


def attach_score_model(assessor: PronunciationAssessor, path: str | Path | None = None) -> ScoreModel | None:
    """Let ``assessor`` score every diagnosis with a score model: the one at ``path`` (a folder with
    ``score_model.json``, or the file), else the ``score_model.json`` beside the assessor's phone model when
    there is one (as ``calibration.json``); ``"none"``: no score model (the CLI's and app's off switch).
    Returns the model, None when none is attached."""
    if path == "none":
        return None
    if path is None:
        beside = card_path(assessor.model_name, MODEL_FILE)
        if not beside.is_file():
            return None
        path = beside
    model = ScoreModel.load(Path(path))
    assessor.scorer = model.score_diagnosis
    return model
