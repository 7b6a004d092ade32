"""A drawing in a model's latent space: the VAE's "Encode my drawing" (the encoder's
q(z|x)) and the GAN's "Nearest sample" (latent optimisation), as views and as the tabs'
handlers called directly."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest
import torch

from playground.ui.tabs.gan import GanTab
from playground.ui.tabs.vae import VaeTab
from playground.ui.widgets import ui_handler
from playground.views import inversion
from playground.views.base import Context
from playground.views.gan import GanViews
from playground.views.vae import VaeViews

pytestmark = pytest.mark.usefixtures("one_thread")  # small networks, many steps (see conftest.single_thread)
FAST = dict(steps=100, restarts=2)


@pytest.fixture(scope="module")
def ctx(data):
    return Context(torch.device("cpu"), data)


@pytest.fixture(scope="module")
def vae(ctx):
    return VaeViews(ctx)


@pytest.fixture(scope="module")
def gan(ctx):
    return GanViews(ctx)


def _digit(data, i: int) -> np.ndarray:
    """Test digit ``i`` as an uploaded picture would be: grey uint8, light ink on dark."""
    return (data.test_grey[i, 0].numpy() * 255).round().astype(np.uint8)


def _pad(stroke: bool = True) -> dict:
    """A Sketchpad value: a transparent 280 x 280 page with a black vertical stroke (a "1")."""
    layer = np.zeros((280, 280, 4), np.uint8)
    if stroke:
        layer[50:230, 128:152] = (0, 0, 0, 255)
    return {"background": None, "layers": [layer], "composite": layer}


def test_a_test_digit_encodes_and_reconstructs_nearer_itself_than_another_digit(vae, data):
    view = vae.session(None).view
    i, j = 1, next(k for k in range(2, 50) if int(data.test_labels[k]) != int(data.test_labels[1]))
    e = inversion.encode(view, _digit(data, i))
    assert e.x.shape == e.reconstruction.shape == (1, 1, 28, 28) and e.draws.shape == (inversion.N_POSTERIOR, 1, 28, 28)
    assert e.mu.shape == e.sigma.shape == (view.latent_dim,) and bool((e.sigma > 0).all())
    assert 0 <= float(e.reconstruction.min()) and float(e.reconstruction.max()) <= 1
    other, _ = inversion.target(_digit(data, j))
    assert inversion.distance(e.reconstruction, e.x) < 0.6 * inversion.distance(e.reconstruction, other)
    assert e.elbo < 0 and e.elbo == pytest.approx(-(e.reconstruction_nats + e.kl_nats), rel=1e-4)
    pair, draws, text = inversion.encode_drawing(vae, None, _digit(data, i))
    assert pair.shape == (32, 62) and draws.shape == (32, 2 + 30 * inversion.N_POSTERIOR) and pair.dtype == np.uint8
    assert f"ELBO of your drawing: {e.elbo:.1f} nats" in text and f"{view.test_elbo:.1f}" in text and text.count("| z[") == 8
    again = inversion.encode_drawing(vae, None, _digit(data, i))
    assert np.array_equal(again[0], pair) and np.array_equal(again[1], draws) and again[2] == text


def test_use_this_code_puts_the_drawings_mean_into_the_sliders(vae, data):
    session = vae.session(None)
    assert inversion.use_drawing(vae, session, _digit(data, 3)) is session
    mu = inversion.encode(session.view, _digit(data, 3)).mu
    assert torch.equal(session.z, mu)
    first = session.view.order[0]
    assert vae.sliders(session)[0][1] == pytest.approx(round(float(mu[first].clamp(-4, 4)), 2))
    assert np.array_equal(vae.decode_code(session), inversion.encode_drawing(vae, session, _digit(data, 3))[0][2:30, 32:60])


def test_latent_optimisation_finds_a_gan_sample_again_and_is_seeded(gan):
    view = gan.session(None).view
    z_star = view.latents(1, 123)
    target, _ = inversion.target((view.generate(z_star)[0, 0].numpy() * 255).astype(np.uint8))
    r = inversion.invert(view, target, **FAST)
    randoms = inversion.distance(view.generate(view.latents(64, 7)), target)
    assert r.distance < 0.4 * float(randoms.mean()) and r.distance < float(randoms.min())
    assert r.distance < r.start_distance and r.label is None and r.by_label == {} and r.label_images is None
    assert r.z.shape == (view.model.latent_dim,) and r.image.shape == (1, 1, 28, 28) and r.path.shape == (inversion.N_PATH, 1, 28, 28)
    assert float(inversion.distance(r.path[-1:], target)) == pytest.approx(r.distance, abs=1e-4)  # the path ends at z*
    again = inversion.invert(view, target, **FAST)
    assert torch.equal(again.z, r.z) and again.distance == r.distance
    assert not torch.equal(inversion.invert(view, target, seed=1, **FAST).z, r.z)


def test_a_conditional_gan_tries_every_label_and_keeps_the_best(gan, ctx):
    session = gan.session(None)
    gan.load(session, "cgan", "")
    view = session.view
    seven = view.generate(view.latents(1, 5), torch.tensor([7]))
    target, _ = inversion.target((seven[0, 0].numpy() * 255).astype(np.uint8))
    r = inversion.invert(view, target, steps=30, restarts=1)
    assert sorted(r.by_label) == list(range(10)) and r.label == min(r.by_label, key=r.by_label.get) == 7
    assert r.label_images.shape == (10, 1, 28, 28) and r.distance == pytest.approx(r.by_label[7])
    pair, strip, text = inversion.nearest_sample(gan, session, (seven[0, 0].numpy() * 255).astype(np.uint8), 30, 1, 0)
    assert pair.shape == (32, 62) and strip.shape == (62, 302) and "Label found: **7**" in text


@pytest.mark.parametrize(
    ("drawing", "message"),
    [
        (None, "nothing is drawn"),
        (np.zeros((28, 28), np.uint8), "the drawing is blank"),
        (_pad(stroke=False), "blank \\(fully transparent\\)"),
        (np.zeros((2, 3, 4, 5)), "must be a grey, RGB or RGBA image"),
        (np.full((28, 28), np.nan), "NaN or infinite"),
        ("x" * 500, "not an image of numbers"),
    ],
)
def test_bad_drawings_are_refused_with_a_short_clear_message(vae, gan, drawing, message):
    for compute in (lambda: inversion.encode_drawing(vae, None, drawing), lambda: inversion.nearest_sample(gan, None, drawing)):
        with pytest.raises(ValueError, match=message) as err:
            compute()
        assert len(str(err.value)) < 160 and "/" not in str(err.value).replace("/ ", "")


@pytest.mark.parametrize(
    ("settings", "message"),
    [((5, 3, 0), "steps must be in \\[10, 300\\]"), ((100, 9, 0), "random starts must be in \\[1, 8\\]"), ((100, 3, -1), "seed must be in"), ((1e9, 3, 0), "steps")],
)
def test_bad_settings_are_refused_before_any_work(gan, data, settings, message):
    with pytest.raises(ValueError, match=message):
        inversion.nearest_sample(gan, None, _digit(data, 0), *settings)
    with pytest.raises(ValueError, match="one finite 28 x 28 image"):
        inversion.invert(gan.session(None).view, torch.zeros(1, 28, 28))


def test_the_tabs_handlers_pass_the_views_answers_and_ask_for_a_drawing(ctx):
    vae_tab, gan_tab = VaeTab(ctx), GanTab(ctx)  # handlers only: nothing laid out
    pair, draws, text = vae_tab.encode_drawing(None, _pad())
    assert pair.shape == (32, 62) and "ELBO of your drawing" in text
    session, *sliders, decoded = vae_tab.use_drawing(None, _pad())
    assert len(sliders) == 8 and sliders[0]["visible"] is True and decoded.shape == (28, 28)
    assert sliders[0]["value"] == pytest.approx(round(float(session.z[session.view.order[0]].clamp(-4, 4)), 2))
    pair, strip, text = gan_tab.nearest_sample(None, _pad(), 20, 1, 0)
    assert pair.shape == (32, 62) and strip.shape == (32, 302) and "Distance" in text
    for redraw, prompt in ((lambda pad: vae_tab._redraw_drawing(None, pad), inversion.PROMPT_ENCODE), (lambda pad: gan_tab._redraw_nearest(None, pad, 20, 1, 0), inversion.PROMPT_NEAREST)):
        image, second, note = redraw(_pad(stroke=False))  # an untouched pad after a change of model: a prompt, no warning
        assert image["value"] is None and second["value"] is None and note == prompt
        assert redraw(_pad())[0].shape == (32, 62)
    with pytest.raises(gr.Error, match="blank"):
        ui_handler(gan_tab.nearest_sample)(None, _pad(stroke=False))
