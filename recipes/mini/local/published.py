"""Published figures from papers and public toolkits, for scale next to this repo's miniature results.

Everything here is PUBLISHED by others, on real speech (LibriSpeech / Libri-light, L2-ARCTIC, TED-LIUM 3),
with models one to three orders of magnitude larger and with far more compute (tens of V100 GPUs for days)
than the 2-CPU, ~4 M-parameter, synthetic-speech runs of ``recipes/mini``. None of these numbers was
produced by this repository; they are data only, so that RESULTS.md can print them beside our own tables,
clearly labelled as published. They are not targets the mini recipe is expected to reach.

Tables:

* ``T1``: label-scarce fine-tuning, Libri-light 10 min / 1 h labelled splits, LibriSpeech WER (%).
* ``T2``: semi-supervised training (noisy student, pseudo-labelling, momentum pseudo-labelling), WER (%).
* ``T3``: mispronunciation detection and diagnosis (MDD) on L2-ARCTIC.
* ``T4``: pre-training cost (GPUs, days, updates) as stated by the papers or fairseq's configs.

Each entry is a dict (see :class:`Entry`) with ``paper``, ``source`` (the URL or ``repo:path`` that was
actually read to check the number), ``setting`` (model size, unlabelled data, labelled data, LM/decoder),
``metric``, ``values`` and ``verified``. ``verified=False`` marks a figure that could not be read from a
source here; such entries carry no invented numbers (``values`` is empty or holds only what was read) and
their ``note`` says what is remembered and why it is unverified. Several papers were read from stored
full-text copies found through a code-search index (no repository path is shown for those copies): the
``source`` then names the paper's arXiv/ar5iv address and the table, and says so.

Comparability: WERs with an LM depend on the LM (4-gram vs Transformer) and on decoding weights tuned on
dev-other; "none" means greedy/Viterbi CTC output. MDD F1 values differ in their evaluators and test-speaker
splits between papers, so only rows of the same paper are strictly comparable.
"""

from __future__ import annotations

from typing import TypedDict

__all__ = ["Entry", "PUBLISHED", "TABLES", "rows"]


class Entry(TypedDict, total=False):
    """One published figure (or group of figures measured in one setting)."""

    paper: str  # authors, year and short title
    source: str  # URL or repo:path (with commit where useful) that was read to verify the values
    setting: str  # model size, unlabelled data, labelled data, LM / decoder
    metric: str  # what the values measure, and on which sets
    values: dict[str, float]  # e.g. {"test-clean": 9.1, "test-other": 15.6}; empty when not verified
    verified: bool  # True only if every number in ``values`` was read in ``source``
    model: str  # short key: "wav2vec2-base", "hubert-base", ...
    labelled: str  # labelled data: "10min", "1h", "100h", "960h", ...
    lm: str  # "none", "4-gram", "transformer", "lstm", ...
    note: str  # caveats, derivations, what remains unverified


# --- sources (what was actually read) -------------------------------------------------------------------

_W2V2 = (
    "arXiv:2006.11477 (Baevski et al., NeurIPS 2020), Table 1, Appendix C Table 9 / Table 10 and section 4.2; "
    "read from a stored full-text copy of the paper (code-search index file id 55859474626)"
)
_HUBERT = (
    "arXiv:2106.07447 (Hsu et al., IEEE/ACM TASLP 2021), Table II, Table III and section IV-C; read from a "
    "stored full-text copy of the paper (code-search index file id 70291095940)"
)
_D2V = (
    "https://ar5iv.labs.arxiv.org/html/2202.03555v3 (Baevski et al., ICML 2022), Table 2, Appendix A "
    "Table 6 and section 4.2; read from a stored copy of that ar5iv page (code-search index file id "
    "71162991179)"
)
_D2V2_ABS = (
    "https://openreview.net/forum?id=Jc5QwxfyyQ and https://huggingface.co/papers/2212.07525 (abstract of "
    "arXiv:2212.07525, Baevski et al., ICML 2023)"
)
_FAIRSEQ = "facebookresearch/fairseq@3d262bb2"

# --- T1: label-scarce fine-tuning -----------------------------------------------------------------------

_T1: list[Entry] = [
    # wav2vec 2.0 BASE (95M), LS-960 unlabelled: Appendix C Table 9 (also Table 1 for the LM rows).
    {
        "paper": "Baevski et al. 2020 (wav2vec 2.0)",
        "source": _W2V2,
        "setting": "BASE (95M params), LS-960 unlabelled, Libri-light 10 min labelled, no LM (CTC Viterbi)",
        "metric": "WER % dev-clean/dev-other/test-clean/test-other",
        "values": {"dev-clean": 46.1, "dev-other": 51.5, "test-clean": 46.9, "test-other": 50.9},
        "verified": True,
        "model": "wav2vec2-base",
        "labelled": "10min",
        "lm": "none",
    },
    {
        "paper": "Baevski et al. 2020 (wav2vec 2.0)",
        "source": _W2V2,
        "setting": "BASE (95M params), LS-960 unlabelled, Libri-light 10 min labelled, official 4-gram LM",
        "metric": "WER % dev-clean/dev-other/test-clean/test-other",
        "values": {"dev-clean": 8.9, "dev-other": 15.7, "test-clean": 9.1, "test-other": 15.6},
        "verified": True,
        "model": "wav2vec2-base",
        "labelled": "10min",
        "lm": "4-gram",
    },
    {
        "paper": "Baevski et al. 2020 (wav2vec 2.0)",
        "source": _W2V2,
        "setting": "BASE (95M params), LS-960 unlabelled, Libri-light 10 min labelled, Transformer LM",
        "metric": "WER % dev-clean/dev-other/test-clean/test-other",
        "values": {"dev-clean": 6.6, "dev-other": 13.2, "test-clean": 6.9, "test-other": 12.9},
        "verified": True,
        "model": "wav2vec2-base",
        "labelled": "10min",
        "lm": "transformer",
    },
    {
        "paper": "Baevski et al. 2020 (wav2vec 2.0)",
        "source": _W2V2,
        "setting": "BASE (95M params), LS-960 unlabelled, Libri-light 1 h labelled, no LM (CTC Viterbi)",
        "metric": "WER % dev-clean/dev-other/test-clean/test-other",
        "values": {"dev-clean": 24.1, "dev-other": 29.6, "test-clean": 24.5, "test-other": 29.7},
        "verified": True,
        "model": "wav2vec2-base",
        "labelled": "1h",
        "lm": "none",
    },
    {
        "paper": "Baevski et al. 2020 (wav2vec 2.0)",
        "source": _W2V2,
        "setting": "BASE (95M params), LS-960 unlabelled, Libri-light 1 h labelled, official 4-gram LM",
        "metric": "WER % dev-clean/dev-other/test-clean/test-other",
        "values": {"dev-clean": 5.0, "dev-other": 10.8, "test-clean": 5.5, "test-other": 11.3},
        "verified": True,
        "model": "wav2vec2-base",
        "labelled": "1h",
        "lm": "4-gram",
    },
    {
        "paper": "Baevski et al. 2020 (wav2vec 2.0)",
        "source": _W2V2,
        "setting": "BASE (95M params), LS-960 unlabelled, Libri-light 1 h labelled, Transformer LM",
        "metric": "WER % dev-clean/dev-other/test-clean/test-other",
        "values": {"dev-clean": 3.8, "dev-other": 9.0, "test-clean": 4.0, "test-other": 9.3},
        "verified": True,
        "model": "wav2vec2-base",
        "labelled": "1h",
        "lm": "transformer",
    },
    # The headline LARGE numbers, for scale only (not BASE, 55x more unlabelled audio).
    {
        "paper": "Baevski et al. 2020 (wav2vec 2.0)",
        "source": _W2V2,
        "setting": "LARGE (317M params), LV-60k (53.2k h) unlabelled, Libri-light 10 min labelled, "
        "Transformer LM",
        "metric": "WER % dev-clean/dev-other/test-clean/test-other",
        "values": {"dev-clean": 4.6, "dev-other": 7.9, "test-clean": 4.8, "test-other": 8.2},
        "verified": True,
        "model": "wav2vec2-large-lv60k",
        "labelled": "10min",
        "lm": "transformer",
        "note": "The abstract's '4.8/8.2 with ten minutes'. Not comparable with BASE rows: 3.3x the "
        "parameters and 55x the unlabelled audio.",
    },
    {
        "paper": "Baevski et al. 2020 (wav2vec 2.0)",
        "source": _W2V2,
        "setting": "LARGE (317M params), LV-60k (53.2k h) unlabelled, Libri-light 1 h labelled, Transformer LM",
        "metric": "WER % dev-clean/dev-other/test-clean/test-other",
        "values": {"dev-clean": 2.9, "dev-other": 5.4, "test-clean": 2.9, "test-other": 5.8},
        "verified": True,
        "model": "wav2vec2-large-lv60k",
        "labelled": "1h",
        "lm": "transformer",
    },
    # HuBERT BASE (~95M), LS-960 unlabelled, two iterations: Table II (only 4-gram rows for BASE).
    {
        "paper": "Hsu et al. 2021 (HuBERT)",
        "source": _HUBERT,
        "setting": "BASE (~95M params), LS-960 unlabelled (2 iterations), Libri-light 10 min labelled, "
        "official 4-gram LM",
        "metric": "WER % dev-clean/dev-other/test-clean/test-other",
        "values": {"dev-clean": 9.1, "dev-other": 15.0, "test-clean": 9.7, "test-other": 15.3},
        "verified": True,
        "model": "hubert-base",
        "labelled": "10min",
        "lm": "4-gram",
        "note": "The paper reports no LM-free WER for BASE at 10 min / 1 h (Table II lists LM-decoded rows only).",
    },
    {
        "paper": "Hsu et al. 2021 (HuBERT)",
        "source": _HUBERT,
        "setting": "BASE (~95M params), LS-960 unlabelled (2 iterations), Libri-light 1 h labelled, "
        "official 4-gram LM",
        "metric": "WER % dev-clean/dev-other/test-clean/test-other",
        "values": {"dev-clean": 5.6, "dev-other": 10.9, "test-clean": 6.1, "test-other": 11.3},
        "verified": True,
        "model": "hubert-base",
        "labelled": "1h",
        "lm": "4-gram",
        "note": "The paper reports no LM-free WER for BASE at 10 min / 1 h.",
    },
    # data2vec BASE, LS-960 unlabelled: Appendix A Table 6 (Table 2 gives the same test-other values).
    {
        "paper": "Baevski et al. 2022 (data2vec)",
        "source": _D2V,
        "setting": "Base (12 blocks, H=768), LS-960 unlabelled, Libri-light 10 min labelled, 4-gram LM",
        "metric": "WER % dev-clean/dev-other/test-clean/test-other",
        "values": {"dev-clean": 7.3, "dev-other": 11.6, "test-clean": 7.9, "test-other": 12.3},
        "verified": True,
        "model": "data2vec-base",
        "labelled": "10min",
        "lm": "4-gram",
        "note": "No LM-free WER is reported for the 10 min / 1 h splits (Tables 2 and 6 are 4-gram only).",
    },
    {
        "paper": "Baevski et al. 2022 (data2vec)",
        "source": _D2V,
        "setting": "Base (12 blocks, H=768), LS-960 unlabelled, Libri-light 1 h labelled, 4-gram LM",
        "metric": "WER % dev-clean/dev-other/test-clean/test-other",
        "values": {"dev-clean": 4.0, "dev-other": 8.5, "test-clean": 4.6, "test-other": 9.1},
        "verified": True,
        "model": "data2vec-base",
        "labelled": "1h",
        "lm": "4-gram",
        "note": "No LM-free WER is reported for the 10 min / 1 h splits.",
    },
    # data2vec 2.0: only the abstract could be read here.
    {
        "paper": "Baevski et al. 2023 (data2vec 2.0)",
        "source": _D2V2_ABS,
        "setting": "Base, LS-960 unlabelled, Libri-light 10 min labelled, 4-gram LM",
        "metric": "WER % test-clean/test-other",
        "values": {},
        "verified": False,
        "model": "data2vec2-base",
        "labelled": "10min",
        "lm": "4-gram",
        "note": "UNVERIFIED: the paper's speech table (Libri-light splits, test-other) was not found in any "
        "stored copy; only the abstract was read (no WER in it). From memory the Base 10 min test-other "
        "WER is somewhat below data2vec's 12.3, but no number is recorded here.",
    },
    {
        "paper": "Baevski et al. 2023 (data2vec 2.0)",
        "source": _D2V2_ABS,
        "setting": "Base, LS-960 unlabelled, Libri-light 1 h labelled, 4-gram LM",
        "metric": "WER % test-clean/test-other",
        "values": {},
        "verified": False,
        "model": "data2vec2-base",
        "labelled": "1h",
        "lm": "4-gram",
        "note": "UNVERIFIED: as for 10 min; remembered only as close to data2vec's 9.1 test-other.",
    },
    # No-pretraining references.
    {
        "paper": "Kahn et al. 2020 (Libri-light)",
        "source": "https://arxiv.org/abs/1912.07875 (abstract only) and facebookresearch/libri-light:TDS/README.md",
        "setting": "TDS acoustic model (20M params) trained from scratch on Libri-light 1 h / 10 h labelled only, "
        "letters or phones, official 4-gram LM",
        "metric": "WER % / PER % / CER % on LibriSpeech dev/test",
        "values": {},
        "verified": False,
        "model": "tds-scratch",
        "labelled": "1h",
        "lm": "4-gram",
        "note": "UNVERIFIED numbers: the libri-light repo README (read) confirms the supervised-only baselines "
        "exist (20M-param TDS trained on 8 GPUs on the 10 h and 1 h lists; a 37M-param TDS with pseudo-labels "
        "on 64 GPUs) but gives no scores, and the paper's tables could not be read. The paper reports no "
        "10 min supervised baseline as far as remembered. No number is recorded here.",
    },
    {
        "paper": "Baevski et al. 2020 (wav2vec 2.0)",
        "source": _W2V2 + " (Table 10)",
        "setting": "LARGE (317M params) trained FROM SCRATCH, no unlabelled data, all 960 h LibriSpeech labelled, "
        "no LM (CTC Viterbi)",
        "metric": "WER % dev-clean/dev-other/test-clean/test-other",
        "values": {"dev-clean": 2.8, "dev-other": 7.6, "test-clean": 3.0, "test-other": 7.7},
        "verified": True,
        "model": "wav2vec2-large-scratch",
        "labelled": "960h",
        "lm": "none",
        "note": "The only from-scratch (no pre-training) row in the paper; it uses 960 h of labels, not "
        "10 min / 1 h. With a 4-gram LM: 2.6/5.8 test; with the Transformer LM: 2.1/4.6 test. No verified "
        "from-scratch result at 10 min / 1 h was found (none in the wav2vec 2.0, HuBERT or data2vec papers).",
    },
]

# --- T2: semi-supervised --------------------------------------------------------------------------------

_T2: list[Entry] = [
    {
        "paper": "Park et al. 2020 (Improved Noisy Student Training for ASR)",
        "source": "https://isca-speech.org/archive/Interspeech_2020/abstracts/1470.html and "
        "https://www.arxiv-vanity.com/papers/2005.09629/ (abstract); dev values from " + _W2V2 + " Table 1",
        "setting": "LibriSpeech 100 h (train-clean-100) labelled + 860 h LibriSpeech unlabelled, noisy student "
        "with adaptive SpecAugment, final generation (LAS model per a secondary summary), LSTM LM",
        "metric": "WER % dev-clean/dev-other/test-clean/test-other",
        "values": {"dev-clean": 3.9, "dev-other": 8.8, "test-clean": 4.2, "test-other": 8.6},
        "verified": True,
        "model": "nst-las",
        "labelled": "100h",
        "lm": "lstm",
        "note": "Per-generation WERs are in the paper's Table 1, which could not be read (only an image of it "
        "in a blog); they are NOT recorded. The abstract names the previous state of the art on LibriSpeech "
        "100h it improves on: 4.74/12.20 test-clean/test-other (another paper's system, not NST's own seed).",
    },
    {
        "paper": "Park et al. 2020 (Improved Noisy Student Training for ASR)",
        "source": "https://isca-speech.org/archive/Interspeech_2020/abstracts/1470.html (abstract); dev values "
        "from " + _HUBERT + " Table III",
        "setting": "LibriSpeech 960 h labelled + Libri-Light unlab-60k unlabelled, noisy student (ContextNet "
        "per a secondary summary), LSTM LM",
        "metric": "WER % dev-clean/dev-other/test-clean/test-other",
        "values": {"dev-clean": 1.6, "dev-other": 3.4, "test-clean": 1.7, "test-other": 3.4},
        "verified": True,
        "model": "nst-contextnet",
        "labelled": "960h",
        "lm": "lstm",
    },
    {
        "paper": "Zhang et al. 2020 (Pushing the Limits of Semi-Supervised Learning for ASR)",
        "source": "https://arcxiv.org/abs/2010.10504 (abstract: 1.4/2.6); dev values from "
        + _HUBERT
        + " Table III",
        "setting": "Conformer XXL (~1B params) pre-trained wav2vec 2.0-style on Libri-Light unlab-60k, then noisy "
        "student training; LibriSpeech 960 h labelled; LSTM LM",
        "metric": "WER % dev-clean/dev-other/test-clean/test-other",
        "values": {"dev-clean": 1.3, "dev-other": 2.6, "test-clean": 1.4, "test-other": 2.6},
        "verified": True,
        "model": "conformer-xxl-pt-nst",
        "labelled": "960h",
        "lm": "lstm",
        "note": "Same source (HuBERT Table III): the pre-trained Conformer XXL without noisy student reaches "
        "dev 1.5/3.0, test 1.5/3.1. The model size (~1B) is as remembered from the paper, not read here.",
    },
    {
        "paper": "Xu et al. 2020 (Self-training and Pre-training are Complementary for Speech Recognition)",
        "source": "oshindow/oshindow.github.io:semi-supervised.md (quotes the abstract of arXiv:2010.11430)",
        "setting": "wav2vec 2.0 pre-trained on LibriVox 53k h unlabelled + pseudo-labelling (self-training) "
        "with it; Libri-light 10 min labelled; LM decoding (type not read)",
        "metric": "WER % test-clean/test-other",
        "values": {"test-clean": 3.0, "test-other": 5.2},
        "verified": True,
        "model": "wav2vec2-large-st",
        "labelled": "10min",
        "lm": "unverified",
        "note": "For scale against T1: the same 10 min of labels, but 53k h of audio and self-training; the "
        "model is LARGE and the LM a Transformer as remembered (not in the abstract). The abstract also gives "
        "1.5/3.1 with all 960 h labelled (HuBERT Table III lists that row with a Transformer LM).",
    },
    {
        "paper": "Higuchi et al. 2021 (Momentum Pseudo-Labeling for Semi-Supervised Speech Recognition)",
        "source": "https://www.scholarfeed.org/paper/2106.08922v1 and https://www.emergentmind.com/articles/"
        "2106.08922 (abstract only)",
        "setting": "CTC end-to-end model; online model trained on pseudo-labels made on the fly by an offline "
        "model that is a momentum-based moving average of the online model; data (as remembered, not read): "
        "LibriSpeech train-clean-100 labelled + LibriSpeech 360 h / 860 h or TED-LIUM 3 unlabelled",
        "metric": "WER % test-clean/test-other (seed vs MPL)",
        "values": {},
        "verified": False,
        "model": "mpl-ctc",
        "labelled": "100h",
        "lm": "none",
        "note": "UNVERIFIED numbers: only the abstract (no WERs) could be read; it states MPL improves over "
        "the seed model and scales to varying data amounts and domain mismatch. Not recorded from memory.",
    },
    # icefall's pseudo-labelling recipe: an EMA (decay 0.999) copy of the model decodes each unlabelled
    # batch on the fly, i.e. momentum pseudo-labelling (train_pl.py at commit 60bfbffda).
    {
        "paper": "icefall PL recipe (Han Zhu, 2024; momentum/EMA pseudo-labelling, Zipformer transducer)",
        "source": "k2-fsa/icefall@60bfbffda:egs/librispeech/PL/README.md (and zipformer/train_pl.py)",
        "setting": "Zipformer transducer (medium), supervised seed on LibriSpeech train-clean-100 only, "
        "modified beam search 4, no LM",
        "metric": "WER % test-clean/test-other",
        "values": {"test-clean": 5.45, "test-other": 13.7},
        "verified": True,
        "model": "zipformer-seed",
        "labelled": "100h",
        "lm": "none",
    },
    {
        "paper": "icefall PL recipe (Han Zhu, 2024; momentum/EMA pseudo-labelling, Zipformer transducer)",
        "source": "k2-fsa/icefall@60bfbffda:egs/librispeech/PL/README.md (and zipformer/train_pl.py)",
        "setting": "Zipformer transducer (medium), train-clean-100 labelled + train-clean-360 + train-other-500 "
        "(860 h) unlabelled, pseudo-labels decoded on the fly by an EMA teacher (decay 0.999), 20 epochs "
        "from the seed, modified beam search 4, no LM",
        "metric": "WER % test-clean/test-other",
        "values": {"test-clean": 4.33, "test-other": 9.61},
        "verified": True,
        "model": "zipformer-mpl",
        "labelled": "100h",
        "lm": "none",
    },
    {
        "paper": "icefall PL recipe (Han Zhu, 2024; momentum/EMA pseudo-labelling, Zipformer transducer)",
        "source": "k2-fsa/icefall@60bfbffda:egs/librispeech/PL/README.md",
        "setting": "Zipformer transducer (medium), supervised seed on LibriSpeech train-clean-100, evaluated "
        "out of domain on TED-LIUM 3, no LM",
        "metric": "WER % TED-LIUM3 dev/test",
        "values": {"tedlium3-dev": 18.29, "tedlium3-test": 18.16},
        "verified": True,
        "model": "zipformer-seed",
        "labelled": "100h",
        "lm": "none",
    },
    {
        "paper": "icefall PL recipe (Han Zhu, 2024; momentum/EMA pseudo-labelling, Zipformer transducer)",
        "source": "k2-fsa/icefall@60bfbffda:egs/librispeech/PL/README.md",
        "setting": "Zipformer transducer (medium), train-clean-100 labelled + TED-LIUM 3 train unlabelled "
        "(unsupervised domain adaptation), EMA-teacher pseudo-labels, no LM",
        "metric": "WER % TED-LIUM3 dev/test",
        "values": {"tedlium3-dev": 14.97, "tedlium3-test": 14.65},
        "verified": True,
        "model": "zipformer-mpl",
        "labelled": "100h",
        "lm": "none",
    },
]

# --- T3: mispronunciation detection and diagnosis on L2-ARCTIC ------------------------------------------

_T3: list[Entry] = [
    {
        "paper": "Yang et al. 2022 (Improving MDD with wav2vec2-based Momentum Pseudo-Labeling, Interspeech)",
        "source": "https://ar5iv.labs.arxiv.org/html/2203.15937 (abstract) and Mu-Y/mpl-mdd:README.md",
        "setting": "wav2vec 2.0 fine-tuned for phone recognition on L2-ARCTIC labelled utterances, then "
        "momentum pseudo-labelling (online-ensemble pseudo-labels) with the unlabelled L2-ARCTIC utterances; "
        "L2-ARCTIC test set",
        "metric": "relative change of MPL vs labelled-only fine-tuning: PER reduction %, MDD F1 improvement %",
        "values": {"per_reduction_pct": 5.35, "f1_improvement_pct": 2.48},
        "verified": True,
        "model": "wav2vec2-mpl-mdd",
        "labelled": "l2arctic",
        "lm": "none",
        "note": "Only these two deltas are in the abstract (it does not say relative or absolute). The "
        "absolute PER, precision, recall and F1 of the labelled-only and MPL systems (Table in the paper) "
        "could NOT be read and are not recorded; F1 was around 0.6 as remembered (unverified). The repo "
        "README says the paper's F1 uses the evaluator of cageyoko/CTC-Attention-Mispronunciation, not the "
        "repo's own printout. DER not verified.",
    },
    {
        "paper": "Peng et al. 2021 (A Study on Fine-Tuning wav2vec2.0 Model for the Task of MDD, Interspeech)",
        "source": "https://www.conftrace.com/papers/207362 (abstract)",
        "setting": "wav2vec 2.0 (self-supervised pre-training) fine-tuned for phone recognition on TIMIT + "
        "L2-ARCTIC; L2-ARCTIC test",
        "metric": "MDD F1 % (best system; with 3x less labelled data)",
        "values": {"f1": 60.44, "f1_third_of_data": 55.52},
        "verified": True,
        "model": "wav2vec2-mdd",
        "labelled": "timit+l2arctic",
        "lm": "none",
        "note": "Precision/recall/PER of the table not read. Which wav2vec 2.0 checkpoint (large/XLSR) is "
        "remembered, not verified.",
    },
    {
        "paper": "Fu et al. 2021 (A Full Text-Dependent End to End MDD with Easy Data Augmentation Techniques)",
        "source": "https://sandbox.awsmpapers.org/papers/a-full-text-dependent-end-to-end-mispronunciation-"
        "detection-and-diagnosis-with-easy-data-augmentation-techniques-f1577f98 (abstract; arXiv:2104.08428)",
        "setting": "CNN-RNN-CTC baseline (Leung et al. 2019 architecture, from scratch, phone CTC) re-trained "
        "by Fu et al. on L2-ARCTIC (+TIMIT); L2-ARCTIC test",
        "metric": "MDD F-measure %",
        "values": {"f1": 49.29},
        "verified": True,
        "model": "cnn-rnn-ctc",
        "labelled": "timit+l2arctic",
        "lm": "none",
        "note": "This is the '0.4929' CNN-RNN-CTC figure commonly quoted for L2-ARCTIC. Its precision/recall "
        "were not read here (unverified). The same abstract reports 56.08% F1 for Fu et al.'s text-dependent "
        "attention model with data augmentation. Code: cageyoko/CTC-Attention-Mispronunciation "
        "(egs/cnn-rnn-ctc is the baseline).",
    },
    {
        "paper": "Fu et al. 2021 (A Full Text-Dependent End to End MDD with Easy Data Augmentation Techniques)",
        "source": "https://sandbox.awsmpapers.org/papers/a-full-text-dependent-end-to-end-mispronunciation-"
        "detection-and-diagnosis-with-easy-data-augmentation-techniques-f1577f98 (abstract; arXiv:2104.08428)",
        "setting": "text-dependent CTC-attention model with the canonical phones as input and three data "
        "augmentations; L2-ARCTIC (+TIMIT); L2-ARCTIC test",
        "metric": "MDD F-measure %",
        "values": {"f1": 56.08},
        "verified": True,
        "model": "ctc-attention-text-dependent",
        "labelled": "timit+l2arctic",
        "lm": "none",
    },
    {
        "paper": "Leung et al. 2019 (CNN-RNN-CTC based end-to-end MDD, ICASSP)",
        "source": "https://scribd.com/document/724152486/ICASSP-2019-8682654 (first page / abstract)",
        "setting": "CNN-RNN-CTC phone recogniser, from scratch, on the corpus of the original paper",
        "metric": "MDD F-measure % (the paper's own test set)",
        "values": {"f1": 74.65},
        "verified": True,
        "model": "cnn-rnn-ctc",
        "labelled": "paper-specific",
        "lm": "none",
        "note": "NOT comparable with the L2-ARCTIC rows: the abstract's 74.65% (vs ERN and S-AM baselines) "
        "is on the original paper's own data, which the readable page does not name; on L2-ARCTIC the same "
        "architecture scores 49.29% (Fu et al. 2021).",
    },
    {
        "paper": "Xu et al. 2021 (Explore wav2vec 2.0 for Mispronunciation Detection, Interspeech)",
        "source": "https://superlectures.com/interspeech2021/explore-wav2vec-2-0-for-mispronunciation-detection-"
        "3-minutes-introduction (abstract)",
        "setting": "wav2vec 2.0 pre-trained, fine-tuned as a binary mispronounced/correct classifier over "
        "prompted-text alignment segments (not free phone recognition); L2-ARCTIC",
        "metric": "mispronunciation detection F1 % (0.610 in the abstract)",
        "values": {"f1": 61.0},
        "verified": True,
        "model": "wav2vec2-md-classifier",
        "labelled": "l2arctic",
        "lm": "none",
        "note": "Detection only (no diagnosis) and a different formulation from CTC phone recognition.",
    },
]

# --- T4: cost ---------------------------------------------------------------------------------------------

_T4: list[Entry] = [
    {
        "paper": "Baevski et al. 2020 (wav2vec 2.0)",
        "source": _W2V2 + " (section 4.2, 4.3); " + _FAIRSEQ + ":examples/wav2vec/config/pretraining/"
        "wav2vec2_base_librispeech.yaml and examples/wav2vec/README.md",
        "setting": "BASE (95M params) pre-training on LS-960",
        "metric": "GPUs, days, updates, batch (hours of audio)",
        "values": {"gpus_v100": 64, "days": 1.6, "updates": 400_000, "batch_hours": 1.6, "gpu_hours": 2457.6},
        "verified": True,
        "model": "wav2vec2-base",
        "note": "gpu_hours = 64 x 1.6 d x 24 h is derived here, not stated. fairseq config: "
        "distributed_world_size 64, max_update 400000 ('you can simulate 64 GPUs ... --update-freq 64/k'). "
        "Fine-tuning BASE uses 8 GPUs. A third-party page (aiportalx.com) quotes the authors as saying "
        "'about 3 days' for BASE; the paper says 1.6 days.",
    },
    {
        "paper": "Baevski et al. 2020 (wav2vec 2.0)",
        "source": _W2V2 + " (section 4.2, 4.3)",
        "setting": "LARGE (317M params) pre-training on LS-960 and on LV-60k",
        "metric": "GPUs, days, updates",
        "values": {
            "gpus_v100": 128,
            "days_ls960": 2.3,
            "days_lv60k": 5.2,
            "updates_ls960": 250_000,
            "updates_lv60k": 600_000,
        },
        "verified": True,
        "model": "wav2vec2-large",
    },
    {
        "paper": "Hsu et al. 2021 (HuBERT)",
        "source": _HUBERT + " (section IV-C); " + _FAIRSEQ + ":examples/hubert/config/pretrain/"
        "hubert_base_librispeech.yaml",
        "setting": "BASE (~95M params) pre-training on LS-960, two iterations (MFCC k-means 100 targets, then "
        "k-means 500 on iteration-1 layer-6 features)",
        "metric": "GPUs, updates per iteration, hours per 100k updates",
        "values": {
            "gpus": 32,
            "updates_iter1": 250_000,
            "updates_iter2": 400_000,
            "hours_per_100k_updates": 9.5,
            "hours_total_derived": 61.75,
        },
        "verified": True,
        "model": "hubert-base",
        "note": "hours_total_derived = 650k x 9.5 h / 100k (about 2.6 days on 32 GPUs, ~1976 GPU-hours), "
        "derived here, excluding feature extraction and k-means. GPU type is not stated in the text read. "
        "Batch at most 87.5 s of audio per GPU. fairseq config: distributed_world_size 32, max_update 400000.",
    },
    {
        "paper": "Baevski et al. 2022 (data2vec)",
        "source": _D2V + " (section 4.2); " + _FAIRSEQ + ":examples/data2vec/config/audio/pretraining/"
        "base_librispeech.yaml and examples/data2vec/README.md",
        "setting": "Base pre-training on LS-960 (EMA teacher, top-8 layer targets)",
        "metric": "updates, batch (minutes of audio), GPUs in the released config",
        "values": {"updates": 400_000, "batch_minutes": 63, "gpus_config": 16},
        "verified": True,
        "model": "data2vec-base",
        "note": "The paper states 400K updates with 63 min of audio per batch; the GPU count (16) comes from "
        "the fairseq config/README ('you can simulate 16 GPUs'). No wall-clock time was found in the text "
        "read.",
    },
    {
        "paper": "Baevski et al. 2023 (data2vec 2.0)",
        "source": _D2V2_ABS + "; " + _FAIRSEQ + ":examples/data2vec/config/v2/base_audio_only_task.yaml",
        "setting": "pre-training on Librispeech (speech), compared with wav2vec 2.0 at equal accuracy",
        "metric": "pre-training time speed-up over wav2vec 2.0; released Base config",
        "values": {
            "speedup_vs_wav2vec2": 10.6,
            "gpus_config": 8,
            "updates_config": 400_000,
            "clone_batch": 8,
        },
        "verified": True,
        "model": "data2vec2-base",
        "note": "Abstract: 'on Librispeech speech recognition it performs as well as wav2vec 2.0 in 10.6x "
        "less time' (model size not named in the abstract; the paper's table, not read here, compares Base "
        "models as remembered). Config: distributed_world_size 8, max_update 400000, clone_batch 8 (8 masked "
        "copies per sample), mask_prob 0.5, mask_length 5. The same abstract gives 16.4x vs MAE on "
        "ImageNet-1K and ~2x vs RoBERTa on GLUE.",
    },
]

# T5 (the frozen-encoder probe): SUPERB's PR figures were not found in a stored source, so none are shown.
PUBLISHED: dict[str, list[Entry]] = {"T1": _T1, "T2": _T2, "T3": _T3, "T4": _T4, "T5": []}

TABLES: dict[str, str] = {
    "T1": "Label-scarce fine-tuning (Libri-light 10 min / 1 h), LibriSpeech WER %",
    "T2": "Semi-supervised ASR (noisy student, (momentum) pseudo-labelling), WER %",
    "T3": "Mispronunciation detection and diagnosis on L2-ARCTIC",
    "T4": "Pre-training cost",
    "T5": "Frozen-encoder phone probe (SUPERB PR)",
}


def rows(table: str) -> list[Entry]:
    """Return copies of the published entries of ``table`` ("T1".."T5"); raise KeyError if unknown."""
    if table not in PUBLISHED:
        raise KeyError(f"unknown table {table!r}; expected one of {sorted(PUBLISHED)}")
    out: list[Entry] = []
    for entry in PUBLISHED[table]:
        copy = Entry(**entry)
        copy["values"] = dict(entry.get("values", {}))
        out.append(copy)
    return out
