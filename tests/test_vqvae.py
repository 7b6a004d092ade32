"""VQ-VAE and VQ-VAE-2 (models/vqvae.py, VectorQuantizer, CodePrior): the straight-through
gradient, the commitment loss, the EMA step and the dead-code restart against hand
computations; the prior's causality by gradients; labels, the bound, save/load, bad input,
a short two-phase run on real digits, sampling; and the CLI (train, sample, evaluate).
The generic contract tests run on the tiny configs in conftest.TINY."""

from __future__ import annotations

import contextlib
import io
import json
import math
import re

import numpy as np
import pytest
import torch
from conftest import single_thread

from models import VQVAE, VQVAE2
from models.base import seeded_init
from models.layers import LAPLACE_EPS, VectorQuantizer
from playground.cli import main
from playground.core import checkpoints

# Tiny models run many small steps: one intra-op thread (see conftest.single_thread).
pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = dict(n_codes=8, code_dim=4, hidden=8, prior_channels=8, prior_layers=2, ae_steps=5)
CLASSES = (VQVAE, VQVAE2)


def _model(cls=VQVAE, seed: int = 0, **overrides):
    return seeded_init(cls, seed, **{**SMALL, **overrides})


def _random_codes(model, n: int, seed: int = 0) -> list[torch.Tensor]:
    return model.uniform_codes(n, torch.Generator().manual_seed(seed))


def _quantizer(embedding: list[list[float]], ema: bool = False, decay: float = 0.99) -> VectorQuantizer:
    """A quantiser with a hand-set codebook (and EMA state equal to it, counts 1)."""
    e = torch.tensor(embedding)
    q = VectorQuantizer(len(e), e.shape[1], ema, decay)
    with torch.no_grad():
        q.embedding.copy_(e)
        q.ema_sum.copy_(e)
        q.ema_count.fill_(1.0)
    return q


def _grid(*vectors: tuple[float, ...]) -> torch.Tensor:
    """Vectors as z_e (1, D, 1, N): one image, one row of N cells."""
    return torch.tensor(vectors).t().reshape(1, len(vectors[0]), 1, len(vectors))


# -- the quantiser against hand computations ------------------------------------------------------------
def test_straight_through_copies_the_decoders_gradient_onto_z_e():
    q = _quantizer([[0.0, 0.0], [1.0, 1.0]])
    z_e = _grid((0.1, 0.2), (0.9, 1.3), (0.4, 0.7)).requires_grad_(True)
    z_q, codes, _ = q(z_e, beta=0.25)
    assert codes.tolist() == [[[0, 1, 1]]]
    assert torch.allclose(z_q, q.lookup(codes))  # the forward value is the quantised one
    upstream = torch.randn(z_q.shape, generator=torch.Generator().manual_seed(0))
    (grad,) = torch.autograd.grad(z_q, z_e, upstream)
    assert torch.equal(grad, upstream)  # d z_q / d z_e = identity


@pytest.mark.parametrize("cls", CLASSES)
def test_the_reconstructions_gradient_reaches_every_encoder(cls, data):
    model = _model(cls, ema=True)
    model.loss(data.train_binary[:8])["reconstruction"].backward()  # no commitment: only straight-through reaches the encoder
    encoders = [model.encoder, model.encoder_top] if cls is VQVAE2 else [model.encoder]
    for encoder in encoders:
        grad = encoder[0].weight.grad
        assert grad is not None and float(grad.abs().sum()) > 0
    assert model.quantizers[0].embedding.grad is None  # EMA codes take no gradient


def test_commitment_and_codebook_losses_against_a_hand_computed_value():
    q = _quantizer([[0.0, 0.0], [1.0, 1.0]])
    # Two images of two cells each: image 0 is 0.05 + 0.10 from its codes, image 1 is 0.25 + 0.
    z_e = torch.cat([_grid((0.1, 0.2), (0.9, 1.3)), _grid((0.5, 0.0), (1.0, 1.0))]).requires_grad_(True)
    _, codes, terms = q(z_e, beta=0.25)
    assert codes.tolist() == [[[0, 1]], [[0, 1]]]
    per_image = torch.tensor([0.01 + 0.04 + 0.01 + 0.09, 0.25 + 0.0])
    assert float(terms["commitment"].detach()) == pytest.approx(0.25 * float(per_image.mean()), rel=1e-5)  # 0.25 * 0.2 = 0.05
    assert float(terms["codebook"].detach()) == pytest.approx(float(per_image.mean()), rel=1e-5)
    # sg[]: the commitment term moves only z_e (d/dz_e = 2 beta (z_e - e) / B), the codebook term only the codes.
    terms["commitment"].backward(retain_graph=True)
    e = q.lookup(codes).detach()
    assert torch.allclose(z_e.grad, 2 * 0.25 * (z_e.detach() - e) / 2)
    assert q.embedding.grad is None or float(q.embedding.grad.abs().sum()) == 0
    z_e.grad = None
    terms["codebook"].backward()
    assert z_e.grad is None or float(z_e.grad.abs().sum()) == 0
    # d/de_0 = -2 sum of (z_e - e_0) over its cells / B = -((0.1, 0.2) + (0.5, 0.0))
    assert torch.allclose(q.embedding.grad[0], torch.tensor([-0.6, -0.2]), atol=1e-6)


def test_ema_update_against_a_hand_computed_step():
    q = _quantizer([[0.0, 0.0], [1.0, 1.0], [4.0, 4.0]], ema=True, decay=0.5)
    z_e = _grid((0.2, 0.0), (0.8, 1.2), (1.0, 1.0))
    codes = q.nearest(z_e)
    assert codes.tolist() == [[[0, 1, 1]]]
    q.ema_update(z_e, codes)
    # N_k <- 0.5 * 1 + 0.5 * n_k with n = (1, 2, 0); m_k <- 0.5 * e_k + 0.5 * (sum of its vectors)
    assert torch.allclose(q.ema_count, torch.tensor([1.0, 1.5, 0.5]))
    assert torch.allclose(q.ema_sum, torch.tensor([[0.1, 0.0], [1.4, 1.6], [2.0, 2.0]]))
    total, k, eps = 3.0, 3, LAPLACE_EPS
    smoothed = [(n + eps) / (total + k * eps) * total for n in (1.0, 1.5, 0.5)]
    expected = torch.tensor([[0.1 / smoothed[0], 0.0], [1.4 / smoothed[1], 1.6 / smoothed[1]], [2.0 / smoothed[2], 2.0 / smoothed[2]]])
    assert torch.allclose(q.embedding, expected, atol=1e-6)
    assert torch.allclose(q.embedding, torch.tensor([[0.1, 0.0], [1.4 / 1.5, 1.6 / 1.5], [4.0, 4.0]]), atol=1e-4)  # eps is tiny


def test_perplexity_and_codes_used_of_a_hand_made_batch():
    q = _quantizer([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    _, codes, terms = q(_grid((0.0, 0.0), (0.1, 0.0), (1.0, 1.0), (2.0, 2.1)), beta=0.25)
    assert codes.tolist() == [[[0, 0, 1, 2]]]
    # p = (1/2, 1/4, 1/4, 0): entropy 1.5 ln 2, perplexity 2^1.5
    assert float(terms["perplexity"]) == pytest.approx(2**1.5, rel=1e-5)
    assert float(terms["codes_used"]) == 3


@pytest.mark.parametrize("cls", CLASSES)
def test_the_models_usage_terms_match_its_code_counts(cls, data):
    model = _model(cls, n_codes=16)
    x = data.test_binary[:32]
    terms = model.loss(x)
    for name, counts in zip(model.level_names, model.code_usage(x)):
        suffix = f"_{name}" if name else ""
        p = counts.double() / counts.sum()
        assert int(counts.sum()) == 32 * math.prod(model.grids[model.level_names.index(name)])
        assert float(terms[f"codes_used{suffix}"]) == int((counts > 0).sum())
        assert float(terms[f"perplexity{suffix}"]) == pytest.approx(float(torch.exp(-(p[p > 0] * p[p > 0].log()).sum())), rel=1e-4)


def test_dead_code_restart_reseeds_unused_codes_from_encoder_outputs():
    q = _quantizer([[0.0, 0.0], [1.0, 1.0], [50.0, 50.0], [-50.0, -50.0]], ema=True)
    z_e = _grid((0.1, 0.0), (0.2, 0.3), (0.9, 1.0), (1.1, 0.8), (0.5, 0.6))
    q.count(q.nearest(z_e))
    assert set(q.nearest(z_e).flatten().tolist()) == {0, 1}
    restarted = q.restart_dead(z_e, torch.Generator().manual_seed(0))
    assert restarted == 2 and float(q.usage.sum()) == 0
    outputs = z_e.permute(0, 2, 3, 1).reshape(-1, 2)
    for k in (2, 3):  # each re-seeded code is one of the encoder's outputs, its EMA state with it
        assert (outputs - q.embedding[k]).abs().sum(1).min() == 0
        assert torch.equal(q.ema_sum[k], q.embedding[k]) and float(q.ema_count[k]) == 1.0
    assert q.embedding[:2].tolist() == [[0.0, 0.0], [1.0, 1.0]]  # live codes untouched
    assert len(set(q.nearest(z_e).flatten().tolist())) >= 3  # and the revived codes are used


def test_dead_code_restart_revives_codes_during_training(data):
    """Two runs from the same initialisation, with and without restarts: the restarts
    happen (``restarted`` > 0 at the window's end) and more codes end up in use."""
    used, restarted = {}, {}
    x = data.train_binary
    for every in (0, 5):
        model = _model(VQVAE, n_codes=16, ema=True, restart_every=every, ae_steps=100)
        optimizers = model.configure_optimizers(3e-3)
        generator = torch.Generator().manual_seed(0)
        terms = [model.train_step(x[i * 32 : (i + 1) * 32], None, optimizers, generator) for i in range(15)]
        restarted[every] = sum(float(t["restarted"]) for t in terms)
        used[every] = int((model.code_usage(data.test_binary[:200])[0] > 0).sum())
    assert restarted[0] == 0 and restarted[5] > 0
    assert used[5] > used[0]


# -- the prior: causality and conditioning --------------------------------------------------------------
def _input_gradient(prior, codes, cell: int, y=None, cond=None, module: str = "embed") -> torch.Tensor:
    """sum over images and channels of |d (a projection of cell's logits) / d the output
    of ``prior.<module>``| per cell of that module's grid (flattened): the code embedding
    (``"embed"``) or the upper level's codes (``"cond_embed"``)."""
    kept = []

    def keep(_module, _inputs, output):
        output.retain_grad()
        kept.append(output)

    handle = getattr(prior, module).register_forward_hook(keep)
    try:
        logits = prior.logits(codes, y, cond)
    finally:
        handle.remove()
    r, c = divmod(cell, prior.grid[1])
    projection = torch.randn(prior.n_codes, generator=torch.Generator().manual_seed(cell))
    (logits[:, :, r, c] * projection).sum().backward()
    return kept[0].grad.abs().sum((0, 3)).flatten()  # (B, H, W, C) -> (H * W,)


def _cells(grid: tuple[int, int]) -> list[int]:
    """Every cell of a small grid; of a larger one, the first two rows, the row starts and
    ends (where the receptive field is cut) and the last cells."""
    h, w = grid
    if h * w <= 16:
        return list(range(h * w))
    return sorted({*range(2 * w), *(r * w for r in range(h)), *(r * w + w - 1 for r in range(h)), h * w // 2, h * w - 2})


@pytest.mark.parametrize("cls,conditional", [(VQVAE, False), (VQVAE2, True)])
def test_each_levels_prior_is_causal_over_its_code_grid(cls, conditional):
    model = _model(cls, n_classes=10 if conditional else 0).eval()
    codes = _random_codes(model, 4)
    y = torch.arange(4) % 10 if conditional else None
    for level, prior in enumerate(model.priors):
        cond = codes[level - 1] if level else None
        for cell in _cells(prior.grid):
            grad = _input_gradient(prior, codes[level], cell, y, cond)
            assert torch.all(grad[cell:] == 0), (cls.family, level, cell)  # not itself, nothing after it
            if cell:
                assert grad[:cell].sum() > 0, (cls.family, level, cell)


def test_the_bottom_prior_of_vqvae2_depends_on_the_top_codes():
    model = _model(VQVAE2).eval()
    top, bottom = _random_codes(model, 6)
    bottom_prior = model.priors[1]
    for cell in (0, 10, 48):  # every cell, the first one included, hears the whole top grid
        assert bool((_input_gradient(bottom_prior, bottom, cell, cond=top, module="cond_embed") > 0).any())
    other_top = (top + 1) % model.n_codes
    with torch.no_grad():
        assert not torch.allclose(bottom_prior.log_prob(bottom, None, top), bottom_prior.log_prob(bottom, None, other_top))
        assert model.priors[0].cond_embed is None  # the top level has no level above


@pytest.mark.parametrize("cls", CLASSES)
def test_a_class_conditional_prior_depends_on_the_label(cls):
    model = _model(cls, n_classes=10).eval()
    codes = _random_codes(model, 4)
    with torch.no_grad():
        for level, prior in enumerate(model.priors):
            cond = codes[level - 1] if level else None
            three = prior.logits(codes[level], torch.full((4,), 3), cond)
            five = prior.logits(codes[level], torch.full((4,), 5), cond)
            assert not torch.allclose(three[:, :, 0, 0], five[:, :, 0, 0])  # even the first cell
        assert not torch.allclose(model.prior_log_prob(codes, torch.full((4,), 3)), model.prior_log_prob(codes, torch.full((4,), 5)))


# -- the bound ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", CLASSES)
def test_log_prob_is_the_bound_that_loss_reports(cls, data):
    model = _model(cls, n_classes=10).eval()
    x, y = data.test_binary[:16], data.test_labels[:16]
    with torch.no_grad():
        terms = model.loss(x, y)
        log_p = model.log_prob(x, y)
    assert log_p.shape == (16,) and bool((log_p < 0).all())
    assert float(terms["nll_bound"]) == pytest.approx(float(terms["reconstruction"] + terms["prior_nll"]), rel=1e-6)
    assert float(-log_p.mean()) == pytest.approx(float(terms["nll_bound"]), rel=1e-4)
    assert model.nll_kind == "bound"


@pytest.mark.parametrize("cls", CLASSES)
def test_without_labels_log_prob_is_the_marginal_over_digits(cls, data):
    model = _model(cls, n_classes=10).eval()
    x, y = data.test_binary[:8], data.test_labels[:8]
    with torch.no_grad():
        per_label = torch.stack([model.log_prob(x, torch.full((8,), k)) for k in range(10)], 1)
        marginal = model.log_prob(x)
        given = model.log_prob(x, y)
    assert torch.allclose(marginal, torch.logsumexp(per_label, 1) - math.log(10), atol=1e-4)
    assert bool((marginal >= given - math.log(10) - 1e-4).all()) and bool((marginal <= per_label.max(1).values + 1e-4).all())


# -- save / load ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", CLASSES)
def test_save_and_load_give_identical_decodes_and_bounds(cls, data, tmp_path):
    model = _model(cls, n_classes=10, ema=True, restart_every=2)
    optimizers = model.configure_optimizers(3e-3)
    for i in range(3):  # move the EMA state away from its initial values
        model.train_step(data.train_binary[i * 16 : (i + 1) * 16], data.train_labels[i * 16 : (i + 1) * 16], optimizers)
    model.eval().save_pretrained(tmp_path / "ck")
    loaded = checkpoints.load(str(tmp_path / "ck"))
    assert type(loaded) is cls and loaded.config == model.config
    for name, buffer in model.named_buffers():
        if name.endswith(("ema_count", "ema_sum")):
            assert torch.equal(buffer, loaded.get_buffer(name)), name
    codes = _random_codes(model, 5)
    x, y = data.test_binary[:8], data.test_labels[:8]
    assert torch.equal(model.decode_codes(codes), loaded.decode_codes(codes))
    assert torch.equal(model.log_prob(x, y), loaded.log_prob(x, y)) and torch.equal(model.log_prob(x), loaded.log_prob(x))
    labels = torch.arange(4)
    assert torch.equal(model.sample(4, labels, torch.Generator().manual_seed(1)), loaded.sample(4, labels, torch.Generator().manual_seed(1)))


# -- bad input ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad,message",
    [
        (dict(n_codes=0), "codebook size K must be"), (dict(n_codes=10**6), "codebook size K must be"), (dict(n_codes=2.5), "codebook size K must be"),
        (dict(beta=float("nan")), "beta must be"), (dict(beta=-1.0), "beta must be"), (dict(beta=float("inf")), "beta must be"),
        (dict(code_dim=0), "code size must be"), (dict(hidden=9), "hidden channels must be even"), (dict(hidden=10**6), "hidden channels must be"),
        (dict(decay=1.0), "EMA decay must be"), (dict(ema="yes"), "ema must be"), (dict(restart_every=-1), "restart_every must be"),
        (dict(prior_layers=13), "prior layers must be"), (dict(n_classes=5), "n_classes must be 0"), (dict(ae_steps=-1), "ae_steps must be"),
    ],
)
@pytest.mark.parametrize("cls", CLASSES)
def test_bad_settings_are_readable_errors(cls, bad, message):
    with pytest.raises(ValueError, match=message):
        cls(**{**SMALL, **bad})


def _full(model, level: int, value) -> list:
    codes = [torch.zeros(2, *grid, dtype=torch.int64) for grid in model.grids]
    codes[level] = value
    return codes


@pytest.mark.parametrize("cls", CLASSES)
def test_bad_code_grids_are_readable_errors(cls):
    model = _model(cls)
    bottom = len(model.grids) - 1
    h, w = model.grids[bottom]
    cases = [
        (_full(model, bottom, torch.full((2, h, w), 8)), r"code ids must be in \[0, 7\]"),
        (_full(model, bottom, torch.full((2, h, w), -1)), r"code ids must be in \[0, 7\]"),
        (_full(model, bottom, torch.zeros(2, h - 1, w, dtype=torch.int64)), rf"shape \(B, {h}, {w}\)"),
        (_full(model, bottom, torch.zeros(2, h * w, dtype=torch.int64)), rf"shape \(B, {h}, {w}\)"),
        (_full(model, bottom, torch.zeros(2, h, w)), "integer ids"),
        (_full(model, bottom, torch.zeros(2, h, w, dtype=torch.bool)), "integer ids"),
        (_full(model, bottom, torch.zeros(3, h, w, dtype=torch.int64)), "same number of images") if bottom else (None, None),
        ([torch.zeros(2, 7, 7, dtype=torch.int64)] * (len(model.grids) + 1), rf"takes {len(model.grids)} code grid"),
        (list(reversed(_full(model, 0, torch.zeros(2, *model.grids[0], dtype=torch.int64)))), "shape") if bottom else (None, None),
        ("codes", rf"takes {len(model.grids)} code grid"),
    ]
    for codes, message in cases:
        if codes is None:
            continue
        for method in (model.decode_codes, model.check_codes):
            with pytest.raises(ValueError, match=message):
                method(codes)
    with pytest.raises(ValueError, match=r"known cells must be in \[0, 16\]" if bottom else r"known cells must be in \[0, 49\]"):
        list(model.draw_codes(_random_codes(model, 2), [50] * len(model.grids)))


@pytest.mark.parametrize("value", ["abc", None, {"a": 1}, 10**30], ids=["str", "None", "dict", "huge"])
def test_codes_that_are_not_numbers_are_readable_errors(value):
    model = _model(VQVAE)
    with pytest.raises(ValueError, match="code"):
        model.decode_codes([[[value] * 7] * 7])


def test_draw_codes_with_the_wrong_number_of_known_counts_is_a_readable_error():
    model = _model(VQVAE2)
    with pytest.raises(ValueError, match="known"):
        list(model.draw_codes(_random_codes(model, 2), [0]))


@pytest.mark.parametrize("cls", CLASSES)
def test_bad_images_labels_and_sampling_settings_are_readable_errors(cls):
    model, conditional = _model(cls), _model(cls, n_classes=10)
    for x in (torch.zeros(2, 28, 28), torch.zeros(2, 1, 27, 28), torch.zeros(2, 3, 28, 28), torch.zeros(0, 1, 28, 28), [[0.0]]):
        for method in (model.codes, model.log_prob, model.loss, model.code_usage):
            with pytest.raises(ValueError, match=r"images must have shape \(B, 1, 28, 28\)"):
                method(x)
    for x in (torch.full((2, 1, 28, 28), float("nan")), torch.full((2, 1, 28, 28), 2.0)):
        with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
            model.codes(x)
    with pytest.raises(ValueError, match="class-conditional"):
        conditional.sample(2)
    with pytest.raises(ValueError, match="not class-conditional"):
        model.sample(2, torch.zeros(2, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"digits in \[0, 9\]"):
        conditional.sample_codes(2, torch.tensor([3, 10]))
    for n in (0, 10**6, 2.5):
        with pytest.raises(ValueError, match="samples must be"):
            model.sample_codes(n)
    for temperature in (0.0, float("nan"), 100.0):
        with pytest.raises(ValueError, match="temperature must be"):
            model.sample_codes(2, temperature=temperature)


# -- training: the autoencoder, then the prior ---------------------------------------------------------------
def _run(model, data, steps: int, batch: int = 32) -> list[dict]:
    optimizers = model.configure_optimizers(3e-3)
    generator = torch.Generator().manual_seed(0)
    x, y = data.train_binary, data.train_labels
    out = []
    for i in range(steps):
        idx = torch.randint(len(x), (batch,), generator=generator)
        out.append(model.train_step(x[idx], y[idx] if model.conditional else None, optimizers, generator))
    return out


def _test_terms(model, data) -> dict[str, float]:
    x, y = data.test_binary[:200], data.test_labels[:200]
    with torch.no_grad():
        return {k: float(v) for k, v in model.eval().loss(x, y if model.conditional else None).items()}


@pytest.mark.parametrize("cls", CLASSES)
def test_a_short_run_lowers_reconstruction_then_the_prior_nll(cls, data):
    model = _model(cls, n_codes=16, hidden=16, prior_channels=16, ae_steps=30, n_classes=10 if cls is VQVAE2 else 0)
    start = _test_terms(model, data)
    terms = _run(model.train(), data, 30)
    assert [float(t["phase"]) for t in terms] == [1.0] * 30
    after_ae = _test_terms(model, data)
    assert after_ae["reconstruction"] < 0.75 * start["reconstruction"]  # 513 nats (all grey) -> ~335
    autoencoder = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("priors.")}
    model.first_phase = "prior"  # a second run on the trained autoencoder: only the prior trains
    terms = _run(model.train(), data, 25)
    assert [float(t["phase"]) for t in terms] == [2.0] * 25
    after_prior = _test_terms(model, data)
    assert after_prior["prior_nll"] < after_ae["prior_nll"] - 5
    assert after_prior["reconstruction"] == after_ae["reconstruction"]
    for k, v in model.state_dict().items():
        if not k.startswith("priors."):
            assert torch.equal(v, autoencoder[k]), k


def test_one_run_trains_the_autoencoder_for_ae_steps_then_the_prior(data):
    model = _model(VQVAE, ae_steps=3).train()
    optimizers = model.configure_optimizers(3e-3)
    x = data.train_binary[:8]
    prior = [p.clone() for p in model.priors.parameters()]
    phases = []
    for i in range(5):
        if i == 3:
            assert all(torch.equal(a, b) for a, b in zip(prior, model.priors.parameters()))  # the AE phase leaves the prior alone
            autoencoder = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("priors.")}
        terms = model.train_step(x, None, optimizers)
        phases.append(float(terms["phase"]))
    assert phases == [1.0, 1.0, 1.0, 2.0, 2.0] and set(terms) == {"loss", "prior_nll", "phase"}
    assert all(torch.equal(v, autoencoder[k]) for k, v in model.state_dict().items() if not k.startswith("priors."))
    assert not all(torch.equal(a, b) for a, b in zip(prior, model.priors.parameters()))
    with torch.no_grad():
        terms = model.loss(x)
    assert torch.equal(terms["loss"], terms["nll_bound"])  # loss() reports the bound whatever the phase, so a loaded model reports the same
    assert torch.allclose(terms["nll_bound"], terms["reconstruction"] + terms["prior_nll"])


def test_the_priors_training_shifts_translate_each_digit_whole(data):
    """The prior's data augmentation (``prior_shift``): each digit moved whole by a seeded
    (dy, dx) in [-2, 2]^2, zeros shifted in."""
    model = _model(VQVAE, prior_shift=2)
    x = data.test_binary[:32]
    shifted = model.shifted(x, torch.Generator().manual_seed(0))
    assert shifted.shape == x.shape and not torch.equal(shifted, x)
    assert torch.equal(shifted, model.shifted(x, torch.Generator().manual_seed(0)))
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i, b in enumerate(shifted):
        moves = [padded[i, :, 2 - dy : 30 - dy, 2 - dx : 30 - dx] for dy in range(-2, 3) for dx in range(-2, 3)]  # b[r, c] = x[r - dy, c - dx]
        assert any(torch.equal(m, b) for m in moves), i
    assert torch.equal(_model(VQVAE, prior_shift=0).shifted(x), x)
    with pytest.raises(ValueError, match="prior_shift must be"):
        _model(VQVAE, prior_shift=5)


# -- sampling ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", CLASSES)
def test_sampled_codes_shapes_ranges_and_seeds(cls):
    model = _model(cls, n_classes=10).eval()
    y = torch.arange(5)
    a = model.sample_codes(5, y, torch.Generator().manual_seed(1))
    b = model.sample_codes(5, y, torch.Generator().manual_seed(1))
    c = model.sample_codes(5, y, torch.Generator().manual_seed(2))
    assert [tuple(g.shape) for g in a] == [(5, *grid) for grid in model.grids]
    assert all(g.dtype == torch.int64 and int(g.min()) >= 0 and int(g.max()) < model.n_codes for g in a)
    assert all(torch.equal(p, q) for p, q in zip(a, b)) and not all(torch.equal(p, q) for p, q in zip(a, c))
    # near zero temperature the draw is the argmax: the first cell, which depends on no code, whatever the seed
    first = model.priors[0].logits(a[0], y)[:, :, 0, 0].argmax(1)
    for seed in (1, 2):
        assert torch.equal(model.sample_codes(5, y, torch.Generator().manual_seed(seed), temperature=1e-3)[0][:, 0, 0], first)
    images = model.decode_codes(a)
    assert images.shape == (5, 1, 28, 28) and images.dtype == torch.float32 and 0 <= float(images.min()) and float(images.max()) <= 1
    assert torch.equal(model.sample(5, y, torch.Generator().manual_seed(1)), images)
    uniform = model.uniform_codes(5, torch.Generator().manual_seed(1))
    assert [tuple(g.shape) for g in uniform] == [(5, *grid) for grid in model.grids]
    assert all(torch.equal(p, q) for p, q in zip(uniform, model.uniform_codes(5, torch.Generator().manual_seed(1))))


@pytest.mark.parametrize("cls", CLASSES)
def test_sample_iter_yields_per_row_and_ends_with_the_samples(cls):
    model = _model(cls).eval()
    steps = list(model.sample_iter(3, generator=torch.Generator().manual_seed(4)))
    assert steps[:-1] == [None] * sum(h for h, _ in model.grids)
    assert torch.equal(steps[-1], model.sample(3, generator=torch.Generator().manual_seed(4)))


def test_draw_codes_fills_only_the_cells_after_the_known_ones(data):
    model = _model(VQVAE2, n_classes=10).eval()
    y = data.test_labels[:4]
    known = model.codes(data.test_binary[:4])
    codes = [c.clone() for c in known]
    steps = list(model.draw_codes(codes, [16, 21], y, torch.Generator().manual_seed(0)))
    assert steps == [(1, i) for i in range(1, 29)]  # the top is known whole; the bottom after 3 rows
    assert torch.equal(codes[0], known[0]) and torch.equal(codes[1][:, :3], known[1][:, :3])
    assert not torch.equal(codes[1][:, 3:], known[1][:, 3:])


# -- the command line -------------------------------------------------------------------------------------------
TINY_SETTINGS = ["n_codes=8", "code_dim=4", "hidden=8", "prior_channels=8", "prior_layers=2", "ae_steps=6"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``python -m playground train`` (in process) of a tiny vqvae and a tiny
    class-conditional vqvae2, 12 steps each (6 autoencoder, 6 prior): {family: (folder, result)}."""
    runs = {}
    with single_thread():
        for family, extra in (("vqvae", []), ("vqvae2", ["n_classes=10"])):
            out = tmp_path_factory.mktemp("cli") / family
            stdout = io.StringIO()
            with contextlib.redirect_stdout(stdout):
                code = main(["train", family, "--steps", "12", "--batch-size", "16", "--out", str(out), "--eval-every", "0", "--set", *TINY_SETTINGS, *extra])
            assert code == 0
            runs[family] = out, json.loads(stdout.getvalue().strip().splitlines()[-1])
    return runs


@pytest.mark.parametrize("family", ["vqvae", "vqvae2"])
def test_train_then_sample_from_the_cli(trained, family, tmp_path):
    out, result = trained[family]
    assert result["status"] == "done" and result["steps"] == 12 and result["family"] == family
    assert {"prior_nll", "phase"} <= set(result["train"]) and {"reconstruction", "prior_nll", "nll_bound"} <= set(result["test"])
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    label = ["--label", "4"] if family == "vqvae2" else []
    assert main(["sample", str(out), "--n", "3", *label, "--seed", "2", "--npy", str(tmp_path / "a.npy"), "--out", str(tmp_path / "a.png")]) == 0
    assert main(["sample", str(out), "--n", "3", *label, "--seed", "2", "--npy", str(tmp_path / "b.npy")]) == 0
    a = np.load(tmp_path / "a.npy")
    assert a.shape == (3, 28, 28) and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    assert np.array_equal(a, np.load(tmp_path / "b.npy")) and (tmp_path / "a.png").is_file()


@pytest.mark.parametrize("family", ["vqvae", "vqvae2"])
def test_evaluate_reports_the_bound_and_the_codebook_over_the_test_split(trained, family, data, capsys):
    out, _ = trained[family]
    assert main(["evaluate", str(out), "--n-samples", "20"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["family"] == family and figures["nll_kind"] == "bound" and 0 < figures["nll_nats"] < 784 * 2
    model = checkpoints.load(str(out))
    for name, counts in zip(model.level_names, model.code_usage(data.test_binary)):
        suffix = f"_{name}" if name else ""
        used = int((counts > 0).sum())
        assert figures[f"codes_used{suffix}"] == used and figures[f"codes_used_share{suffix}"] == pytest.approx(used / 8)
        assert figures[f"dead_codes{suffix}"] == [k for k in range(8) if counts[k] == 0]
        assert 1 - 1e-6 <= figures[f"perplexity{suffix}"] <= used + 1e-6
    for key in ("confident_share", "uniform_codes_confident_share"):
        assert 0 <= figures[key] <= 1
    assert figures["uniform_codes_frechet_distance"] > 0 and 0 <= figures["uniform_codes_n_classes_confident"] <= 10
    if family == "vqvae2":  # the marginal bound over labels, and the bound given the label beside it
        assert figures["nll_nats"] <= figures["nll_nats_given_label"] + math.log(10) + 1e-3
        with torch.no_grad():
            marginal = -float(model.log_prob(data.test_binary).mean())
        assert figures["nll_nats"] == pytest.approx(marginal, rel=1e-4) and "label_agreement" in figures
    else:
        assert "nll_nats_given_label" not in figures


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "vqvae", "--steps", "2", "--set", "n_codes=0"], r"codebook size K must be in \[2, 512\]"),
        (["train", "vqvae", "--steps", "2", "--set", "n_codes=1000000"], r"codebook size K must be"),
        (["train", "vqvae2", "--steps", "2", "--set", "beta=NaN"], "beta must be a number"),
        (["train", "vqvae2", "--steps", "2", "--set", "n_classes=3"], "n_classes must be 0"),
        (["train", "vqvae", "--steps", "2", "--set", "levels=3"], "has no setting levels"),
    ],
)
def test_bad_cli_settings_are_readable_errors(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and re.search(message, err) and "Traceback" not in err


def test_sampling_a_conditional_model_with_a_bad_label_is_a_readable_error(trained, capsys, tmp_path):
    assert main(["sample", str(trained["vqvae2"][0]), "--n", "2", "--label", "10", "--npy", str(tmp_path / "x.npy")]) == 2
    assert "--label must be in [0, 9]" in capsys.readouterr().err


def test_the_bench_reads_the_train_panels_reconstructions_tile_by_tile(data):
    from playground.bench.vqvae import _reconstructions_read
    from playground.core.plots import image_grid

    originals = data.test_grey[:8]
    assert _reconstructions_read(image_grid(torch.cat([originals, originals]), nrow=8)) >= 7  # perfect reconstructions
    assert _reconstructions_read(image_grid(torch.cat([originals, torch.full_like(originals, 0.5)]), nrow=8)) == 0
