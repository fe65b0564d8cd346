"""wav2vec 2.0 and HuBERT: span masks, the Gumbel quantiser, k-means targets, and that both learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import tiny_encoder as shared_tiny_encoder

from asr.data.dataset import AudioDataset, Batch
from asr.objectives import hubert, kmeans, wav2vec2
from asr.objectives.masking import span_mask

SR = 16_000


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_encoder(frontend: str = "conv", seed: int = 0):
    """conftest's ~60 k-parameter encoder without dropout: trains in a few seconds on a CPU."""
    return shared_tiny_encoder(frontend, seed=seed, pos_conv_kernel=16, pos_conv_groups=4, dropout=0.0)


def tone_sequence(seconds: float, seed: int) -> np.ndarray:
    """100 ms tones drawn from six pitches, with a little noise: frames with a few distinct spectra."""
    rng = np.random.default_rng(seed)
    freqs = np.array([220.0, 330.0, 495.0, 740.0, 1110.0, 1665.0])
    seg = SR // 10
    n = int(seconds * SR) // seg
    t = np.arange(seg) / SR
    audio = np.concatenate([0.3 * np.sin(2 * np.pi * rng.choice(freqs) * t) for _ in range(n)])
    return (audio + 0.01 * rng.standard_normal(len(audio))).astype(np.float32)


def make_batch(waves: list[np.ndarray]) -> Batch:
    lengths = torch.tensor([len(w) for w in waves])
    audio = torch.zeros(len(waves), int(lengths.max()))
    for i, w in enumerate(waves):
        audio[i, : len(w)] = torch.from_numpy(w)
    return Batch(audio=audio, audio_lengths=lengths, cut_ids=[f"utt{i}" for i in range(len(waves))])


def train_steps(objective, batch: Batch, steps: int, lr: float = 3e-3) -> dict[str, np.ndarray]:
    """Adam on one fixed batch (fresh masks every step); the metrics of every step."""
    opt = torch.optim.Adam([p for p in objective.parameters() if p.requires_grad], lr=lr)
    objective.train()
    history: dict[str, list[float]] = {}
    for step in range(steps):
        torch.manual_seed(1000 + step)
        out = objective(batch)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        objective.step_end(step + 1)
        for key, value in out.metrics.items():
            history.setdefault(key, []).append(value)
    return {key: np.array(values) for key, values in history.items()}


# -- masking --------------------------------------------------------------------------------------------
def expected_mask_share(length: int, mask_prob: float, span: int, min_masks: int) -> float:
    """Exact expected masked share under span_mask's scheme: k of N = L - M + 1 starts without
    replacement, k = max(min_masks, floor(p L / M + u)); frame t stays unmasked iff none of the c_t
    starts covering it is drawn."""
    n = length - span + 1
    base = mask_prob * length / span
    lo = math.floor(base)
    t = np.arange(length)
    covering = np.minimum(t, n - 1) - np.maximum(0, t - span + 1) + 1
    share = 0.0
    for k, weight in ((lo, 1.0 - (base - lo)), (lo + 1, base - lo)):
        k = min(max(min_masks, k), n)
        # P(no covering start drawn) = C(N - c, k) / C(N, k) = prod_{i < c} (N - k - i) / (N - i)
        unmasked = np.array([np.prod([(n - k - i) / (n - i) for i in range(c)]) for c in covering])
        share += weight * (1.0 - unmasked.mean())
    return share


@pytest.mark.parametrize("mask_prob", [0.65, 0.8])
def test_span_mask_share_matches_the_expectation(mask_prob):
    length, span = 1500, 10
    torch.manual_seed(0)
    mask = span_mask((64, length), torch.full((64,), length), mask_prob, span)
    expected = expected_mask_share(length, mask_prob, span, 2)
    assert abs(mask.float().mean().item() - expected) < 0.01
    # the "no overlap" figure is mask_prob; with overlaps it is about 1 - (1 - p / M)^M
    assert abs(expected - (1 - (1 - mask_prob / span) ** span)) < 0.01


def test_span_mask_respects_padding_and_is_deterministic():
    lengths = torch.tensor([0, 1, 5, 10, 11, 37, 200, 250])
    torch.manual_seed(3)
    mask = span_mask((8, 250), lengths)
    torch.manual_seed(3)
    assert torch.equal(mask, span_mask((8, 250), lengths))
    gen = torch.Generator().manual_seed(5)
    assert torch.equal(
        span_mask((8, 250), lengths, generator=gen),
        span_mask((8, 250), lengths, generator=torch.Generator().manual_seed(5)),
    )
    frames = torch.arange(250)[None, :]
    assert not (mask & (frames >= lengths[:, None])).any()  # padding never masked
    assert mask[0].sum() == 0 and mask[1].sum() == 1  # empty utterance: nothing; one frame: itself
    assert mask[3, :10].all() and mask[3].sum() == 10  # L = M: the one possible span
    # min_masks = 2 distinct starts: at least span + 1 frames whenever the utterance allows two spans
    assert int(mask[4].sum()) >= 11 and int(mask[5].sum()) >= 11
    assert not span_mask((2, 50), torch.tensor([50, 50]), mask_prob=0.0, min_masks=0).any()


# -- wav2vec 2.0 ----------------------------------------------------------------------------------------
def test_quantizer_hard_codes_and_perplexity():
    torch.manual_seed(0)
    q = wav2vec2.GumbelVectorQuantizer(in_dim=16, groups=2, entries=8, codevector_dim=12)
    x = torch.randn(50, 16, requires_grad=True)
    out = q(x, temperature=2.0)
    assert out.onehot.shape == (50, 2, 8)
    assert torch.all((out.onehot == 0) | (out.onehot == 1)) and torch.all(out.onehot.sum(-1) == 1)
    codes = out.onehot.argmax(-1)
    expected = torch.cat([q.codevectors[0][codes[:, 0]], q.codevectors[1][codes[:, 1]]], dim=1)
    assert torch.allclose(out.quantized, expected)
    for perplexity in (out.code_perplexity, out.prob_perplexity):
        assert 1.0 <= perplexity.item() <= 2 * 8 + 1e-4
    out.quantized.sum().backward()  # straight-through: the choice gets a gradient
    assert q.weight_proj.weight.grad is not None and q.weight_proj.weight.grad.abs().sum() > 0
    q.eval()  # eval: plain argmax, no noise
    a, b = q(x, 2.0), q(x, 2.0)
    assert torch.equal(a.onehot, b.onehot)
    assert torch.equal(a.onehot.argmax(-1), q.weight_proj(x).view(50, 2, 8).argmax(-1))


def test_negatives_come_from_other_masked_frames_of_the_same_utterance():
    torch.manual_seed(0)
    counts = torch.tensor([5, 1, 12, 2])
    neg = wav2vec2.sample_negatives(counts, 100)
    starts = torch.cumsum(counts, 0) - counts
    utt = torch.repeat_interleave(torch.arange(4), counts)
    rows = torch.arange(int(counts.sum()))
    lo, hi = starts[utt][:, None], (starts + counts)[utt][:, None]
    assert ((neg >= lo) & (neg < hi)).all()
    single = counts[utt] == 1
    assert (neg[~single] != rows[~single, None]).all()  # never the positive itself
    assert len(neg[utt == 2].unique()) == 12  # uniform over the utterance: every frame shows up


@pytest.mark.parametrize("max_entries", [1 << 24, 0])  # one [N, N] product; the index_select gather
def test_candidate_similarities_equal_the_direct_gather(max_entries):
    torch.manual_seed(0)
    c, targets = torch.randn(30, 8), torch.randn(30, 8, requires_grad=True)
    candidates = torch.randint(0, 30, (30, 11))
    direct = torch.einsum("nf,nkf->nk", c, targets[candidates])
    (grad_direct,) = torch.autograd.grad(direct.square().sum(), targets)
    got = wav2vec2.candidate_similarities(c, targets, candidates, max_entries)
    (grad_got,) = torch.autograd.grad(got.square().sum(), targets)
    torch.testing.assert_close(got, direct)
    torch.testing.assert_close(grad_got, grad_direct)


def test_gumbel_temperature_anneals():
    obj = wav2vec2.build(tiny_encoder(), codebook_entries=16)
    assert obj.gumbel_temperature.item() == 2.0
    obj.step_end(100_000)
    assert obj.gumbel_temperature.item() == pytest.approx(2.0 * 0.999995**100_000)
    obj.step_end(1_000_000)
    assert obj.gumbel_temperature.item() == 0.5  # the floor
    assert obj.state_dict()["gumbel_temperature"].item() == 0.5  # resumes annealed
    with pytest.raises(ValueError, match="unknown Wav2Vec2Config"):
        wav2vec2.build(tiny_encoder(), codebook=3)


def test_wav2vec2_contrastive_loss_falls():
    enc = tiny_encoder()
    obj = wav2vec2.build(enc, codebook_entries=32, codevector_dim=32, final_dim=32, num_negatives=20)
    batch = make_batch([tone_sequence(1.0, 0), tone_sequence(0.8, 1)])
    torch.manual_seed(0)
    first = obj(batch)
    assert first.num_targets > 0 and torch.isfinite(first.loss)
    for key in ("accuracy", "code_perplexity", "prob_perplexity", "gumbel_temperature", "diversity_loss"):
        assert key in first.metrics
    assert 1.0 <= first.metrics["code_perplexity"] <= 2 * 32
    # chance is 1 / (K + 1) and a loss of log(K + 1); after a plateau the model learns to use the context
    h = train_steps(obj, batch, steps=80)
    loss, accuracy = h["contrastive_loss"], h["accuracy"]
    assert loss[-10:].mean() < min(loss[:10].mean(), math.log(21)) - 0.5, loss
    assert accuracy[-10:].mean() > 0.2 > accuracy[:10].mean(), accuracy
    assert h["gumbel_temperature"][1] == pytest.approx(2.0 * 0.999995)  # the loop's step_end anneals it
    assert obj.gumbel_temperature.item() == pytest.approx(2.0 * 0.999995**80)


# -- HuBERT targets -------------------------------------------------------------------------------------
def write_cuts(tmp_path, waves: list[np.ndarray]):
    from lhotse import CutSet, Recording

    cuts = []
    for i, w in enumerate(waves):
        path = tmp_path / f"utt{i}.wav"
        sf.write(path, w, SR, subtype="FLOAT")
        cuts.append(Recording.from_file(path, recording_id=f"utt{i}").to_cut())
    return CutSet.from_cuts(cuts)


@pytest.mark.parametrize("frontend", ["conv", "fbank"])
def test_feature_rows_equal_encoder_frames(frontend):
    enc = tiny_encoder(frontend)
    mfcc = kmeans.MfccFeaturizer(enc)
    rng = np.random.default_rng(0)
    lengths = [enc.min_samples, enc.min_samples + 1, 719, 720, 721, 16_000, 16_001, 16_319, 16_320]
    lengths += rng.integers(enc.min_samples, 40_000, 20).tolist()
    for n in lengths:
        audio = torch.from_numpy(rng.standard_normal(n).astype(np.float32) * 0.1)
        frames = int(enc.num_frames(torch.tensor(n)))
        feats = mfcc(audio)
        assert feats.shape == (frames, 39) and np.isfinite(feats).all(), n
    layer = kmeans.model_features(enc, 1, audio)
    assert layer.shape == (frames, enc.dim) and enc.training  # mode restored


def test_mfcc_frames_align_with_conv_frames():
    # one MFCC frame every 20 ms, centred on the encoder frame: a click at encoder frame 30 lands there
    enc = tiny_encoder()
    audio = torch.zeros(SR)
    audio[320 * 30 + 200] = 1.0
    feats = kmeans.mfcc_features(audio, int(enc.num_frames(torch.tensor(SR))))
    assert len(feats) == 49 == int(enc.num_frames(torch.tensor(SR)))
    assert int(np.argmax(feats[:, 0])) == 30  # c0 ~ log energy


def test_mfcc_frames_align_with_fbank_frames():
    # the fbank front-end's frame t is centred 20 ms later than the CNN's: a click centred on its frame 30
    # lands on label 30 (before the offset, it landed on label 31)
    from asr.models import build_encoder, encoder_config

    enc = build_encoder(encoder_config("xs", "fbank", "conformer"))
    assert kmeans.label_offset(enc) == 2 and kmeans.label_offset(tiny_encoder()) == 0
    audio = torch.zeros(SR)
    audio[320 * 30 + enc.min_samples // 2] = 1.0
    featurizer = kmeans.MfccFeaturizer(enc)
    feats = featurizer(audio)
    assert len(feats) == int(enc.num_frames(torch.tensor(SR)))
    assert int(np.argmax(feats[:, 0])) == 30


def test_centres_round_trip_and_assign(tmp_path):
    from sklearn.cluster import KMeans

    x = np.random.default_rng(0).standard_normal((300, 5)).astype(np.float32)
    km = KMeans(4, n_init=1, random_state=0).fit(x)
    path = kmeans.save_centres(km, tmp_path / "km.npz")
    centres = kmeans.load_centres(path)
    assert np.array_equal(centres, km.cluster_centers_.astype(np.float32))
    assert np.array_equal(kmeans.assign(x, centres), km.predict(x))


def test_label_cuts_round_trip_and_line_up(tmp_path):
    from lhotse import CutSet

    enc = tiny_encoder()
    waves = [tone_sequence(s, i) for i, s in enumerate([1.0, 0.7, 1.3, 0.42])]
    cuts = write_cuts(tmp_path, waves)
    window = cuts["utt2"].truncate(offset=0.13, duration=0.6).with_id("utt2-w")  # a cut not starting at 0
    cuts = CutSet.from_cuts([*cuts, window])
    featurizer = kmeans.MfccFeaturizer(enc)
    km = kmeans.fit_kmeans(cuts, featurizer, k=6, max_frames=120, seed=0, n_init=2)
    assert km.cluster_centers_.shape == (6, 39)
    labelled = kmeans.label_cuts(cuts, featurizer, km.cluster_centers_, tmp_path / "labels")
    reloaded = CutSet.from_file(tmp_path / "labels" / "cuts.jsonl.gz").to_eager()
    for cut, again in zip(labelled, reloaded, strict=True):
        audio = kmeans.load_mono_16k(cut)
        frames = int(enc.num_frames(torch.tensor(len(audio))))
        labels = kmeans.load_labels(again)
        assert len(labels) == frames, cut.id
        assert np.array_equal(labels, kmeans.assign(featurizer(audio), km.cluster_centers_))
    assert reloaded["utt2-w"].start > 0  # reads its own labels, not the recording's first ones

    # the dataset's batches carry them, padded with -100, one per encoder frame
    batch = AudioDataset()[reloaded]
    labels = batch.targets["hubert_labels"]
    assert torch.equal((labels != -100).sum(1), enc.num_frames(batch.audio_lengths))

    class OneShort(kmeans.MfccFeaturizer):  # e.g. features of a model with another front-end
        def __call__(self, audio):
            return super().__call__(audio)[:-1]

    with pytest.raises(ValueError, match="utt0"):
        kmeans.label_cuts(cuts, OneShort(enc), km.cluster_centers_, tmp_path / "bad")


# -- HuBERT ---------------------------------------------------------------------------------------------
def test_hubert_loss_falls_with_mfcc_kmeans_labels(tmp_path):
    enc = tiny_encoder()
    cuts = write_cuts(tmp_path, [tone_sequence(1.0, 0), tone_sequence(0.8, 1), tone_sequence(1.2, 2)])
    featurizer = kmeans.MfccFeaturizer(enc)
    km = kmeans.fit_kmeans(cuts, featurizer, k=8, seed=0, n_init=2)
    batch = AudioDataset()[kmeans.label_cuts(cuts, featurizer, km.cluster_centers_, tmp_path / "labels")]
    obj = hubert.build(enc, num_clusters=8, final_dim=32)
    torch.manual_seed(0)
    first = obj(batch)
    assert torch.isfinite(first.loss) and first.num_targets > 0
    assert {"masked_accuracy", "unmasked_accuracy", "masked_loss"} <= set(first.metrics)
    h = train_steps(obj, batch, steps=60)
    loss, accuracy = h["masked_loss"], h["masked_accuracy"]
    assert loss[-10:].mean() < loss[:10].mean() - 0.3, loss
    assert accuracy[-10:].mean() > accuracy[:10].mean() + 0.1, accuracy


def test_hubert_rejects_misaligned_labels():
    enc = tiny_encoder()
    batch = make_batch([tone_sequence(0.5, 0), tone_sequence(0.4, 1)])
    frames = enc.num_frames(batch.audio_lengths)
    labels = torch.full((2, int(frames.max())), -100)
    labels[0, : frames[0]] = 1
    labels[1, : frames[1] - 1] = 2  # one short
    batch.targets["hubert_labels"] = labels
    with pytest.raises(ValueError, match="utt1"):
        hubert.build(enc, num_clusters=4)(batch)
    with pytest.raises(KeyError, match="hubert_labels"):
        hubert.build(enc, num_clusters=4)(make_batch([tone_sequence(0.5, 0)]))
