"""WaveNet: causality and the receptive field by gradients, fast generation against the
naive one, the mu-law, refusals, the loss and checkpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from models import WaveNet
from models.base import seeded_init
from models.layers import CausalConv1d
from models.mu_law import linear_quantise, mu_law_decode, mu_law_encode
from models.wavenet import measured_receptive_field, receptive_field
from playground.core.audio import synthetic_audio

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(residual_channels=4, skip_channels=6, dilations=[1, 2, 4])
SMALL = {
    "k2": dict(TINY, n_classes=0),
    "k3": dict(TINY, n_classes=0, kernel_size=3),
    "k2-cond": dict(TINY, n_classes=10),
    "k3-cond": dict(TINY, n_classes=10, kernel_size=3),
}


def _model(config: dict, seed: int = 0, scale: float = 0.0) -> WaveNet:
    """A tiny WaveNet in eval mode. With ``scale``, every weight is redrawn from
    N(0, scale^2): larger weights than the init give peaked conditionals that depend
    strongly on the past, so a wrong input to any layer changes the draws."""
    model = seeded_init(WaveNet, seed, **config).eval()
    if scale:
        with torch.no_grad():
            for i, p in enumerate(model.parameters()):
                p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(100 + i)) * scale)
    return model


def _labels(model: WaveNet, n: int) -> torch.Tensor | None:
    return torch.arange(n) % model.n_classes if model.conditional else None


def _codes(n: int, t: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, t), generator=torch.Generator().manual_seed(seed))


def _generate(model, n, n_samples, y, seed, **kwargs) -> torch.Tensor:
    *_, codes = model.generate(n, n_samples, y, generator=torch.Generator().manual_seed(seed), **kwargs)
    return codes


def _stack_gradient(model: WaveNet, t: int, n_steps: int) -> torch.Tensor:
    """sum over the batch and channels of |d sum(logits[:, :, t]) / d h|, (n_steps,), where
    h (B, R, n_steps) are the stack's input features (position s holds x_{s-1})."""
    x = _codes(3, n_steps)
    h = model._shifted_input(x).detach().requires_grad_(True)
    cond = model._conditioning(_labels(model, 3), 3)
    model._stack(h, cond)[:, :, t].sum().backward()
    return h.grad.abs().sum((0, 1))


# -- causality and the receptive field ----------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SMALL))
def test_logits_at_t_see_no_input_at_t_or_after(name):
    model = _model(SMALL[name])
    field = model.receptive_field
    n_steps = 2 * field + 6
    for t in (0, 1, field // 2, field + 3, n_steps - 1):
        grad = _stack_gradient(model, t, n_steps)
        # h's position s holds x_{s-1}: positions after t hold x_t and later.
        assert torch.all(grad[t + 1 :] == 0), (name, t)
        assert grad[t] > 0, (name, t)  # x_{t-1}, the sample just before
        if t > 0:
            assert grad[:t].sum() > 0, (name, t)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_logits_through_the_public_api_ignore_the_present_and_the_future(name):
    """The same property with integer codes: changing x_t, x_{t+1}, ... leaves the logits
    at positions <= t as they were, while changing x_{t-1} moves the logits at t."""
    model = _model(SMALL[name])
    x = _codes(2, 30)
    y = _labels(model, 2)
    t = 17
    changed_now = x.clone()
    changed_now[:, t:] = (x[:, t:] + 101) % 256
    changed_before = x.clone()
    changed_before[:, t - 1] = (x[:, t - 1] + 101) % 256
    with torch.no_grad():
        base, now, before = (model.logits(v, y) for v in (x, changed_now, changed_before))
    assert torch.equal(base[:, :, : t + 1], now[:, :, : t + 1])
    assert not torch.allclose(base[:, :, t + 1], now[:, :, t + 1])
    assert torch.equal(base[:, :, : t], before[:, :, : t])
    assert not torch.allclose(base[:, :, t], before[:, :, t])


@pytest.mark.parametrize("kernel_size", [2, 3, 4])
@pytest.mark.parametrize("dilations", [[1], [1, 2, 4], [2, 4], [1, 1, 1], [3, 1, 5]])
def test_the_receptive_field_formula_matches_a_gradient_probe(dilations, kernel_size):
    model = _model(dict(residual_channels=4, skip_channels=6, dilations=dilations, kernel_size=kernel_size, n_classes=0))
    field = receptive_field(dilations, kernel_size)
    assert model.receptive_field == field == 1 + (kernel_size - 1) * sum(dilations)
    n_steps = 2 * field + 5
    t = field + 3
    grad = _stack_gradient(model, t, n_steps)
    seen = torch.nonzero(grad).flatten()
    assert int(seen.min()) == t - (field - 1) and int(seen.max()) == t


@pytest.mark.parametrize(
    "dilations, kernel_size",
    [([1, 2, 4, 8, 16, 32, 64, 128, 256, 512], 2), ([1, 2, 4, 8] * 3, 3), ([1, 3, 9, 27], 3), ([1, 1, 1], 2), ([1], 2)],
)
def test_the_measured_receptive_field_agrees_with_the_formula(dilations, kernel_size):
    assert measured_receptive_field(dilations, kernel_size) == receptive_field(dilations, kernel_size)
    assert measured_receptive_field(tuple(dilations), kernel_size) == receptive_field(dilations, kernel_size)  # cached


def test_a_stack_with_gaps_reaches_fewer_inputs_than_it_spans():
    assert receptive_field([2, 4]) == 7 and measured_receptive_field([2, 4]) == 4  # x_{t-1} - {0, 2, 4, 6}


def test_the_measured_receptive_field_refuses_a_bad_stack():
    for dilations, kernel_size in (([0], 2), ([1] * 65, 2), ([1, 2], 5)):
        with pytest.raises(ValueError):
            measured_receptive_field(dilations, kernel_size)


def test_skip_sum_checks_its_features_and_classes():
    model = _model(SMALL["k2-cond"])
    h = torch.zeros(2, 4, 10)
    assert model.skip_sum(h, torch.tensor([0, 3])).shape == (2, 6, 10)
    with pytest.raises(ValueError, match="features"):
        model.skip_sum(torch.zeros(2, 3, 10), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="conditional"):
        model.skip_sum(h)


def test_receptive_field_in_milliseconds_and_the_default_stack():
    model = WaveNet(residual_channels=4, skip_channels=6)
    assert model.dilations == [2**i for i in range(10)]
    assert model.receptive_field == 1024 and model.receptive_field_ms == pytest.approx(128.0)


@pytest.mark.parametrize("kernel_size,dilation", [(2, 1), (2, 4), (3, 2), (4, 3)])
def test_causal_conv1d_output_t_sees_inputs_t_minus_padding_to_t(kernel_size, dilation):
    torch.manual_seed(0)
    conv = CausalConv1d(3, 5, kernel_size, dilation=dilation)
    x = torch.randn(2, 3, 30, requires_grad=True)
    out = conv(x)
    assert out.shape == (2, 5, 30)
    t = 20
    out[:, :, t].sum().backward()
    seen = torch.nonzero(x.grad.abs().sum((0, 1))).flatten().tolist()
    assert seen == [t - j * dilation for j in range(kernel_size)][::-1]


def test_conditioning_changes_the_logits():
    model = _model(SMALL["k2-cond"])
    x = _codes(2, 20)
    with torch.no_grad():
        a = model.logits(x, torch.tensor([0, 0]))
        b = model.logits(x, torch.tensor([3, 0]))
    assert not torch.allclose(a[0], b[0]) and torch.equal(a[1], b[1])


# -- generation ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("prime_len", [0, 5, 20])
@pytest.mark.parametrize("temperature", [1.0, 0.7])
@pytest.mark.parametrize("name", sorted(SMALL))
def test_fast_and_naive_generation_draw_identical_codes(name, temperature, prime_len):
    model = _model(SMALL[name], scale=0.5)
    n = 3
    y = _labels(model, n)
    prime = _codes(n, prime_len, seed=5) if prime_len else None
    kwargs = dict(temperature=temperature, prime=prime)
    fast = _generate(model, n, 40, y, 7, method="fast", **kwargs)
    naive = _generate(model, n, 40, y, 7, method="naive", **kwargs)
    assert fast.shape == (n, 40) and fast.dtype == torch.int64
    assert torch.equal(fast, naive)
    assert len(torch.unique(fast)) > 5  # not a degenerate constant stream
    other = _generate(model, n, 40, y, 8, method="fast", **kwargs)
    assert not torch.equal(fast, other)


@pytest.mark.parametrize("prime_len", [0, 4, 25])
@pytest.mark.parametrize("name", sorted(SMALL))
def test_cold_generation_follows_the_teacher_forced_argmax(name, prime_len):
    """At temperature 0.01 each draw is (all but) the argmax of the teacher-forced logits
    given everything before it: an independent check of the fast generator's state."""
    model = _model(SMALL[name], scale=0.5)
    n = 2
    y = _labels(model, n)
    prime = _codes(n, prime_len, seed=2) if prime_len else None
    new = _generate(model, n, 30, y, 0, temperature=0.01, prime=prime)
    full = torch.cat([prime, new], 1) if prime is not None else new
    with torch.no_grad():
        logits = model.logits(full, y)[:, :, prime_len:]
    chosen = logits.gather(1, new[:, None, :]).squeeze(1)
    assert torch.all(chosen >= logits.amax(1) - 0.2)


@pytest.mark.parametrize("kernel_size", [2, 3])
def test_a_single_layer_stack_generates_fast_as_naive(kernel_size):
    # LIBRARY BUG (models/wavenet.py, WaveNet._fast): with one layer, ``res_skip[:-1]`` is
    # empty and ``torch.stack([])`` raises RuntimeError, so WaveNet(dilations=[1]) cannot
    # sample (nor train from the CLI: the trainer's sample grid crashes with a traceback).
    model = _model(dict(residual_channels=4, skip_channels=6, dilations=[1], kernel_size=kernel_size, n_classes=0), scale=0.5)
    naive = _generate(model, 2, 20, None, 3, method="naive")
    try:
        fast = _generate(model, 2, 20, None, 3, method="fast")
    except RuntimeError as err:
        pytest.fail(f"fast generation of a one-layer WaveNet raised RuntimeError: {err}")
    assert torch.equal(fast, naive)


def test_generation_yields_chunks_and_sample_decodes_to_waveforms():
    model = _model(SMALL["k2-cond"])
    y = torch.tensor([1, 2])
    chunks = list(model.generate(2, 25, y, generator=torch.Generator().manual_seed(0), chunk=10))
    assert [c.shape[1] for c in chunks] == [10, 20, 25]
    assert torch.equal(chunks[0], chunks[-1][:, :10])
    waves = model.sample(2, y, torch.Generator().manual_seed(0), n_samples=25)
    assert waves.shape == (2, 25) and waves.dtype == torch.float32
    assert float(waves.abs().max()) <= 1
    assert torch.equal(waves, mu_law_decode(chunks[-1]))
    model.clip_seconds = 0.002
    assert model.sample(1, y[:1]).shape == (1, 16)  # clip_seconds at 8 kHz by default


def test_a_model_with_16_codes_generates_codes_below_16():
    model = _model(dict(TINY, n_classes=0, n_codes=16), scale=0.5)
    fast = _generate(model, 2, 30, None, 1)
    assert int(fast.max()) <= 15 and torch.equal(fast, _generate(model, 2, 30, None, 1, method="naive"))
    with pytest.raises(ValueError, match="codes must be in"):
        model.logits(torch.full((1, 4), 16))


# -- the mu-law -----------------------------------------------------------------------------------------
def test_mu_law_round_trip_is_within_the_documented_bound():
    mu = 255
    x = torch.linspace(-1, 1, 200_001, dtype=torch.float64).float()
    codes = mu_law_encode(x)
    assert codes.dtype == torch.int64 and int(codes.min()) == 0 and int(codes.max()) == 255
    error = (mu_law_decode(codes) - x).abs().double()
    bound = (1 + mu * x.abs().double()) * ((1 + mu) ** (1 / mu) - 1) / mu
    assert torch.all(error <= bound + 1e-6)
    assert float(error.max()) > 0.5 * float(bound.max())  # the bound is (nearly) reached: no slack hiding a bug


def test_mu_law_silence_monotonicity_and_idempotence():
    assert int(mu_law_encode(torch.tensor(0.0))) == 128
    assert mu_law_encode(torch.tensor([-5.0, 5.0])).tolist() == [0, 255]  # clipped
    x = torch.linspace(-1, 1, 10_001)
    assert torch.all(mu_law_encode(x).diff() >= 0)
    all_codes = torch.arange(256)
    levels = mu_law_decode(all_codes)
    assert levels.dtype == torch.float32 and torch.all(levels.diff() > 0)
    assert float(levels[0]) == pytest.approx(-1) and float(levels[-1]) == pytest.approx(1)
    assert torch.equal(mu_law_encode(levels), all_codes)
    assert torch.equal(mu_law_decode(mu_law_encode(levels)), levels)


def test_mu_law_steps_are_fine_near_silence_and_coarse_at_full_scale():
    levels = mu_law_decode(torch.arange(256)).double()
    steps = levels.diff()
    assert float(steps[127]) < 2e-4 and float(steps[-1]) > 0.04
    # 8-bit linear PCM has one step everywhere: 2 / 255
    x = torch.linspace(-1, 1, 100_001)
    assert float((linear_quantise(x) - x).abs().max()) <= 1 / 255 + 1e-6
    assert len(torch.unique(linear_quantise(x))) == 256


# -- refusals -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad,word",
    [
        (dict(dilations=[]), "dilations"), (dict(dilations=[0]), "dilation"), (dict(dilations=[1] * 65), "dilations"),
        (dict(dilations=[5000]), "dilation"), (dict(dilations=[1.5]), "dilation"), (dict(dilations=[True]), "dilation"),
        (dict(kernel_size=1), "kernel_size"), (dict(kernel_size=5), "kernel_size"), (dict(n_classes=-1), "n_classes"),
        (dict(n_classes=65), "n_classes"), (dict(residual_channels=1), "residual_channels"),
        (dict(skip_channels=0), "skip_channels"), (dict(n_codes=1), "n_codes"), (dict(sample_rate_hz=100), "sample_rate_hz"),
        (dict(clip_seconds=0), "clip_seconds"), (dict(clip_seconds=float("nan")), "clip_seconds"),
    ],
)
def test_bad_settings_are_refused_with_a_readable_error(bad, word):
    with pytest.raises(ValueError, match=word):
        WaveNet(**{**TINY, **bad})


@pytest.mark.parametrize("dilations", [4, "124"])
def test_dilations_that_are_not_a_list_are_refused_with_a_value_error(dilations):
    # LIBRARY BUG (models/wavenet.py, WaveNet.__init__): ``list(dilations)`` runs before
    # the isinstance check, so an int raises TypeError (a traceback from the CLI's
    # ``--set dilations=4``) and a string "124" is silently read as [1, 2, 4].
    try:
        model = WaveNet(residual_channels=4, skip_channels=6, dilations=dilations)
    except ValueError as err:
        assert "dilations" in str(err)
    except TypeError as err:
        pytest.fail(f"WaveNet(dilations={dilations!r}) raised TypeError, not ValueError: {err}")
    else:
        pytest.fail(f"WaveNet(dilations={dilations!r}) was accepted as {model.dilations}")


@pytest.mark.parametrize(
    "codes,word",
    [
        (torch.rand(2, 10), "int64"), (torch.zeros(10, dtype=torch.int64), "shape"), (torch.zeros(2, 0, dtype=torch.int64), "shape"),
        (torch.full((2, 10), 256), "in \\[0, 255\\]"), (torch.full((2, 10), -1), "in \\[0, 255\\]"),
        (torch.zeros(2, 10, dtype=torch.int32), "int64"), (np.zeros((2, 10), dtype=np.int64), "shape"),
    ],
)
def test_bad_codes_are_refused(codes, word):
    model = _model(SMALL["k2"])
    with pytest.raises(ValueError, match=word):
        model.loss(codes)


@pytest.mark.parametrize(
    "name,labels,word",
    [
        ("k2", torch.tensor([0, 1]), "not conditional"),
        ("k2-cond", None, "is conditional"),
        ("k2-cond", torch.tensor([0, 10]), "in \\[0, 9\\]"),
        ("k2-cond", torch.tensor([-1, 0]), "in \\[0, 9\\]"),
        ("k2-cond", torch.tensor([0, 1], dtype=torch.int32), "int64"),
        ("k2-cond", torch.tensor([0, 1, 2]), "shape"),
    ],
)
def test_bad_labels_are_refused_by_the_loss_and_by_generation(name, labels, word):
    model = _model(SMALL[name])
    with pytest.raises(ValueError, match=word):
        model.loss(_codes(2, 10), labels)
    with pytest.raises(ValueError, match=word):
        model.sample(2, labels, n_samples=3)


@pytest.mark.parametrize(
    "kwargs,word",
    [
        (dict(temperature=0.0), "temperature"), (dict(temperature=float("nan")), "temperature"),
        (dict(temperature=6.0), "temperature"), (dict(n_samples=0), "samples to generate"), (dict(n=0), "clips"),
        (dict(n=257), "clips"), (dict(method="slow"), "method"), (dict(chunk=0), "chunk"),
        (dict(prime=torch.zeros(3, 4, dtype=torch.int64)), "one row per clip"),
        (dict(prime=torch.zeros(2, 4)), "int64"), (dict(prime=torch.full((2, 4), 300)), "in \\[0, 255\\]"),
    ],
)
def test_bad_generation_arguments_are_refused(kwargs, word):
    model = _model(SMALL["k2"])
    args = dict(n=2, n_samples=5, temperature=1.0, prime=None, method="fast", chunk=10) | kwargs
    with pytest.raises(ValueError, match=word):
        list(model.generate(args.pop("n"), args.pop("n_samples"), None, **args))


def test_generation_needs_eval_mode():
    model = _model(SMALL["k2"]).train()
    with pytest.raises(ValueError, match="eval"):
        list(model.generate(1, 5))
    with pytest.raises(ValueError, match="eval"):
        model.sample(1, n_samples=5)


# -- the loss -------------------------------------------------------------------------------------------
def _audio_batch(n: int = 4, n_steps: int = 400):
    data = synthetic_audio()
    return data.train_codes[:n, :n_steps], data.train_labels[:n]


def test_a_few_adam_steps_lower_the_loss_on_a_fixed_batch():
    model = seeded_init(WaveNet, 0, **SMALL["k2-cond"])
    x, y = _audio_batch()
    optimizers = model.configure_optimizers(1e-2)
    with torch.no_grad():
        before = float(model.loss(x, y)["loss"])
    assert before == pytest.approx(math.log(256), rel=0.05)  # a fresh model is nearly uniform
    for _ in range(5):
        model.train_step(x, y, optimizers)
    with torch.no_grad():
        after = float(model.loss(x, y)["loss"])
    assert after < before - 0.1


def test_log_prob_is_minus_the_loss_times_the_clip_length():
    model = _model(SMALL["k3-cond"], scale=0.3)
    x, y = _audio_batch(3, 150)
    with torch.no_grad():
        log_prob = model.log_prob(x, y)
        terms = model.loss(x, y)
    assert log_prob.shape == (3,) and torch.all(log_prob < 0)
    assert float(log_prob.mean()) == pytest.approx(-float(terms["loss"]) * 150, rel=1e-5)
    assert float(terms["bits_per_sample"]) == pytest.approx(float(terms["nll"]) / math.log(2))
    # each clip's log-probability is its own: the first clip alone gives the same number
    with torch.no_grad():
        assert float(model.log_prob(x[:1], y[:1])[0]) == pytest.approx(float(log_prob[0]), rel=1e-5)


def test_log_probabilities_of_every_two_sample_clip_sum_to_one():
    model = _model(dict(TINY, n_classes=0, n_codes=8), scale=0.5)
    clips = torch.cartesian_prod(torch.arange(8), torch.arange(8))
    with torch.no_grad():
        total = torch.logsumexp(model.log_prob(clips).double(), 0).exp()
    assert float(total) == pytest.approx(1.0, abs=1e-4)


# -- checkpoints ----------------------------------------------------------------------------------------
def test_save_load_round_trip_gives_identical_weights_and_samples(tmp_path):
    model = _model(dict(SMALL["k3-cond"], clip_seconds=0.005), scale=0.3)
    model.save_pretrained(tmp_path / "ck")
    loaded = WaveNet.from_pretrained(tmp_path / "ck")
    assert loaded.config == model.config and loaded.dilations == [1, 2, 4] and loaded.kernel_size == 3
    assert not loaded.training
    for (k, v), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(v, v2)
    y = torch.tensor([4, 9])
    a = model.sample(2, y, torch.Generator().manual_seed(1))
    b = loaded.sample(2, y, torch.Generator().manual_seed(1))
    assert a.shape == (2, 40) and torch.equal(a, b)


# -- pitch accuracy -------------------------------------------------------------------------------------
class _SineModel:
    """A stand-in for a conditional WaveNet that plays pure sines at the pitch of each
    class, times ``detune[class]``."""

    data_kind = "audio"
    n_classes = 10
    sample_rate_hz = 8000
    device = torch.device("cpu")

    def __init__(self, detune):
        self.detune = detune

    def sample(self, n, y, generator, *, n_samples, temperature):
        from playground.core.audio import NOTE_HZ

        t = torch.arange(n_samples) / self.sample_rate_hz
        freqs = torch.tensor([NOTE_HZ[int(c)] * self.detune[int(c)] for c in y])
        return 0.5 * torch.sin(2 * math.pi * freqs[:, None] * t)


def test_pitch_accuracy_counts_the_clips_at_the_right_pitch():
    from playground.core.metrics import pitch_accuracy

    right = pitch_accuracy(_SineModel([1.0] * 8), n_per_class=2, seconds=0.25)
    assert right["pitch_accuracy"] == 1.0 and right["pitch_clips"] == 16
    assert right["pitch_median_cents_error"] < 10
    # a semitone flat on the even notes: half the clips are wrong
    flat = 2 ** (-1 / 12)
    half = pitch_accuracy(_SineModel([flat, 1.0] * 4), n_per_class=2, seconds=0.25)
    assert half["pitch_accuracy"] == 0.5
    assert half["pitch_accuracy_by_note"] == {"C4": 0.0, "D4": 1.0, "E4": 0.0, "F4": 1.0, "G4": 0.0, "A4": 1.0, "B4": 0.0, "C5": 1.0}


def test_pitch_accuracy_refuses_an_unconditional_wavenet():
    from playground.core.metrics import pitch_accuracy

    with pytest.raises(ValueError, match="conditioned"):
        pitch_accuracy(_model(SMALL["k2"]), n_per_class=1, seconds=0.01)
