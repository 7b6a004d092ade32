"""The Gradio app: a header, then one tab per model family."""

from __future__ import annotations

import os

import gradio as gr
import torch

from playground.core.data import load_mnist
from playground.core.device import describe_device, get_device
from playground.ui import outputs
from playground.ui.home import Home
from playground.ui.page import CSS, HEAD, PRESENTER_JS
from playground.ui.tabs.autoregressive import ArTab
from playground.ui.tabs.boltzmann import BoltzmannTab
from playground.ui.tabs.compare import CompareTab
from playground.ui.tabs.data import DataTab
from playground.ui.tabs.gan import GanTab
from playground.ui.tabs.vae import VaeTab
from playground.ui.tabs.vqvae import VqTab
from playground.ui.tabs.warmup import WarmupTab
from playground.ui.tabs.wavenet import WaveNetTab
from playground.views.base import Context
from playground.views.held import server_limits

TITLE = "Generative Models Playground"
# (title, id, tab): a new family's tab is added here.
TABS = [
    ("Warm-up", "warmup", WarmupTab), ("VAE", "vae", VaeTab), ("GAN", "gan", GanTab), ("Boltzmann machines", "boltzmann", BoltzmannTab),
    ("Autoregressive", "autoregressive", ArTab), ("VQ-VAE", "vqvae", VqTab), ("Sequences", "wavenet", WaveNetTab), ("Compare", "compare", CompareTab),
]


def build_demo(device: torch.device | str | None = None, dataset: str | None = None) -> gr.Blocks:
    """Build the whole app (not launched).

    Args:
        device: where models run; default ``get_device()`` (cuda > mps > cpu, or
            ``PLAYGROUND_DEVICE``).
        dataset: ``"mnist-5k"`` or ``"mnist-full"``; default ``PLAYGROUND_DATASET``.

    Raises:
        ValueError: for an unknown device or dataset.
    """
    outputs.install()  # atomic writes of output images and clips: concurrent identical outputs never serve a partial file
    ctx = Context(device=get_device(str(device) if device else None), data=load_mnist(dataset), notify=gr.Warning)
    families = [(title, id_, tab(ctx)) for title, id_, tab in TABS]
    about = (
        f"**Device**: {describe_device(ctx.device)}  \n**Digits**: {ctx.data.describe()}  \n"
        "**Your own images**: the **Your data** tab (last) makes every image family train on them.  \n"
        "**Presenter mode** (top right, or `?presenter` in the address): larger text for a projector.  \n"
        + server_limits(ctx)
    )
    # delete_cache: Gradio keeps every image it serves; on a long-running Space, files
    # older than an hour are removed hourly.
    with gr.Blocks(title=TITLE, delete_cache=(3600, 3600)) as demo:
        with gr.Row(equal_height=True, elem_classes=["pg-header"]):
            gr.Markdown(f"## {TITLE}", elem_id="pg-title")
            presenter = gr.Checkbox(False, label="presenter mode", scale=0, min_width=170, elem_id="pg-presenter", container=False)
        presenter.change(None, presenter, None, js=PRESENTER_JS)
        demo.load(None, None, presenter, js="() => new URLSearchParams(location.search).has('presenter')")
        home = Home([(id_, tab) for _, id_, tab in families], about)
        with gr.Tabs(elem_id="pg-tabs") as outer:
            with gr.Tab("Start here", id="home"):
                home.build()
            for title, id_, tab in families:
                with gr.Tab(title, id=id_):
                    tab.build()
            with gr.Tab("Your data", id="data"):
                lines = [t.training.data_line for _, _, t in families if getattr(getattr(t, "training", None), "data_line", None) is not None]
                DataTab(ctx).build(lines)
        home.bind(outer)

        def release(request: gr.Request) -> None:
            ctx.sessions.release(request.session_hash)
            ctx.datasets.release(request.session_hash)

        demo.unload(release)
    # Gradio's queue recomputes a pandas summary of its last 10,000 events after every event (for its monitoring page):
    # measured, that alone grew to tens of ms per call in a class. Every 500 events over the last 2,000 is plenty.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "500")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "2000")
    demo.queue(default_concurrency_limit=4, max_size=64)
    return demo


def launch_kwargs() -> dict:
    """Theme, CSS and head script for ``demo.launch`` (Gradio 6 takes them there)."""
    return {"theme": gr.themes.Soft(), "css": CSS, "head": HEAD, "show_error": False}
