"""TRANSITIONAL (deleted once every tab is restructured): the old shared helpers of the tabs not yet moved to views. What every tab shares: error handling, image outputs, the digit picker, and the
checkpoint and training panels. Tabs build their own controls around these."""

from __future__ import annotations

import functools
import inspect
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image
from torch import Tensor

from models.checks import check_int
from models.hub import HubModel
from playground.core import checkpoints
from playground.core.checkpoints import bundled_names
from playground.core.data import MnistSplits
from playground.core.metrics import CONFIDENCE, classify
from playground.core.plots import image_grid
from playground.core.sessions import SessionRegistry  # noqa: F401
from playground.views.base import Context

log = logging.getLogger(__name__)

CSS = """
.pixelated img { image-rendering: pixelated; }
.pixelated.fill img { object-fit: contain !important; width: 100% !important; height: 100% !important; }
.pg-hidden { display: none !important; }
.pg-header { margin-bottom: 0.25rem; }
"""

# Plotly's click events never reach Python through gr.Plot, so a small script forwards a
# click on a point of a plot inside an element with class "pg-clickable" (id X) to the
# hidden textbox with id X-click, as "customdata:nonce"; the textbox's change event then
# runs a handler. The nonce makes a second click on the same point a change too.
HEAD = """
<script>
(() => {
  const attach = () => {
    document.querySelectorAll('.pg-clickable').forEach(box => {
      const target = box.id + '-click';
      box.querySelectorAll('.js-plotly-plot').forEach(div => {
        if (div.__pgClick || typeof div.on !== 'function') return;
        div.__pgClick = true;
        div.on('plotly_click', ev => {
          const p = ev.points && ev.points[0];
          if (!p || p.customdata === undefined) return;
          const field = document.querySelector('#' + target + ' textarea, #' + target + ' input');
          if (!field) return;
          const index = Array.isArray(p.customdata) ? p.customdata[0] : p.customdata;
          field.value = index + ':' + Date.now();
          field.dispatchEvent(new Event('input', { bubbles: true }));
        });
      });
    });
  };
  new MutationObserver(attach).observe(document.documentElement, { childList: true, subtree: true });
})();
</script>
"""

INTERNAL_ERROR = "Something went wrong on the server ({kind}). Your model and settings are kept; the details are in the server log."


AppContext = Context


def _as_ui_error(err: Exception) -> gr.Error:
    if isinstance(err, gr.Error):
        return err
    if isinstance(err, torch.cuda.OutOfMemoryError | MemoryError):
        return gr.Error("Out of memory: try a smaller model, batch or count. Your model and settings are kept.")
    if isinstance(err, ValueError):
        return gr.Error(str(err))
    log.exception("handler failed")
    return gr.Error(INTERNAL_ERROR.format(kind=type(err).__name__))


def ui_handler(fn: Callable) -> Callable:
    """Wrap a handler (plain or generator) so that bad input becomes a readable
    ``gr.Error`` and any other failure a generic message, never a traceback on the page.

    ``ValueError`` messages (the library's checks) are shown as they are; other errors are
    logged with their traceback on the server and shown only by type.
    """
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as err:
                raise _as_ui_error(err) from None

        return generator_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            raise _as_ui_error(err) from None

    return wrapper


def image_output(label: str, size: int = 280, **kwargs) -> gr.Image:
    """A read-only image box that shows small digit grids large and crisp (PNG, so grey
    levels stay exact; pixelated scaling)."""
    return gr.Image(
        label=label, height=size, format="png", interactive=False, buttons=["download", "fullscreen"],
        elem_classes=["pixelated", "fill"], **kwargs,
    )


def to_image(images: Tensor, nrow: int = 8) -> np.ndarray:
    """Images (N, 1, 28, 28) in [0, 1] as one uint8 grid for ``gr.Image``."""
    return image_grid(images, nrow=nrow)


def side_by_side(left: np.ndarray, right: np.ndarray, gap: int = 8) -> np.ndarray:
    """Two uint8 pictures of the same height (grey (H, W) or RGB (H, W, 3), the same kind)
    next to each other, with a dark gap ``gap`` pixels wide."""
    spacer = np.full((left.shape[0], gap, *left.shape[2:]), 40, dtype=np.uint8)
    return np.concatenate([left, spacer, right], axis=1)


def quality_line(images: Tensor) -> str:
    """The classifier's reading of a batch of images (N, 1, 28, 28) in [0, 1] as a markdown
    line: the share it reads confidently and how many different digits (with counts)."""
    probs = classify(images)[0]
    conf, pred = probs.max(1)
    confident = conf >= CONFIDENCE
    counts = torch.bincount(pred[confident], minlength=10).tolist()
    shown = ", ".join(f"{d}: {c}" for d, c in enumerate(counts) if c)
    return (
        f"The classifier reads **{float(confident.float().mean()):.0%}** of these {len(images)} confidently "
        f"(p ≥ {CONFIDENCE:g}), **{sum(c > 0 for c in counts)}** different digits{f' ({shown})' if shown else ''}."
    )


def save_animation(frames: Sequence[np.ndarray], name: str, frame_ms: int = 250, scale: int = 2) -> str:
    """Write uint8 image frames (H, W) or (H, W, 3), all the same size, as a looping GIF
    for display and download; returns its path (under the pruned export folder).

    Raises:
        ValueError: no frames, or frames of different sizes.
    """
    if not frames:
        raise ValueError("there are no frames to animate yet")
    if len({f.shape for f in frames}) != 1:
        raise ValueError("animation frames must all have the same size")
    images = [Image.fromarray(f).convert("RGB") for f in frames]
    if scale > 1:
        images = [im.resize((im.width * scale, im.height * scale), Image.NEAREST) for im in images]
    path = checkpoints.new_export_dir() / f"{name}.gif"
    images[0].save(path, save_all=True, append_images=images[1:], duration=frame_ms, loop=0)
    return str(path)


def load_checkpoint(ctx: AppContext, family: str | Sequence[str], choice: str | None, source: str | None) -> tuple[HubModel, str]:
    """Load the checkpoint a checkpoint panel names: ``source`` (a Hub repo id or, where
    folders are allowed, a local folder) when it is not empty, else the dropdown's bundled
    ``choice``; it must be of ``family`` (one name or several).

    Returns:
        (the model on the app's device in eval mode, its name for display as markdown).

    Raises:
        ValueError: (CheckpointError) the checkpoint cannot be found or loaded, or is of
            another family.
    """
    source = str(source or "").strip() or str(choice or "").strip()
    model = checkpoints.load(source, family=family, device=ctx.device, allow_folders=checkpoints.folders_allowed())
    gr.Info(f"Loaded {source}")
    return model, f"`{source}`"


def load_checkpoint_zip(ctx: AppContext, family: str | Sequence[str], path: str | None) -> HubModel:
    """Load a model of ``family`` from an uploaded checkpoint zip (as a download button gives).

    Raises:
        ValueError: no file, not a safe checkpoint zip, or a checkpoint of another family.
    """
    if not path:
        raise ValueError("upload a checkpoint .zip first")
    with tempfile.TemporaryDirectory(prefix="playground-upload-") as folder:
        model = checkpoints.load(str(checkpoints.unpack_zip(path, folder)), family=family, device=ctx.device)
    gr.Info("Loaded the uploaded checkpoint")
    return model


@dataclass
class ModelView:
    """A loaded model with its display name, as a tab shows it; read-only, so sessions
    share the bundled ones. Subclasses add what they compute once (and ``describe``)."""

    model: HubModel
    name: str

    def __post_init__(self) -> None:
        self.model.eval()

    @functools.cached_property
    def export(self) -> Path:
        """The model as a checkpoint zip (made once: a view's model never changes)."""
        return checkpoints.export_zip(self.model, name=f"{self.model.family}-playground", notes=self.describe())

    def describe(self) -> str:
        """One markdown line about the model."""
        raise NotImplementedError


class BundledViews:
    """Bundled checkpoints of a tab, each loaded once (on first use, under a lock) and
    wrapped by ``wrap(model, name)`` into the tab's read-only view, which every session
    without a model of its own shares."""

    def __init__(self, ctx: AppContext, families: str | Sequence[str], wrap: Callable[[HubModel, str], object]):
        self._ctx, self._families, self._wrap = ctx, families, wrap
        self._views: dict[str, object] = {}
        self._lock = threading.Lock()

    def get(self, name: str):
        """The view of bundled checkpoint ``name``.

        Raises:
            ValueError: (CheckpointError) no such bundled checkpoint of these families.
        """
        with self._lock:
            if name not in self._views:
                model = checkpoints.load(name, family=self._families, device=self._ctx.device)
                self._views[name] = self._wrap(model, f"bundled `{name}`")
            return self._views[name]


def session_key(request: gr.Request | None) -> str:
    """The key of a browser session in ``ctx.sessions`` ("anonymous" without a request,
    as when a test or the bench calls a handler directly)."""
    return request.session_hash if request else "anonymous"


def check_index(name: str, value, n: int) -> int:
    """An index in [0, n - 1] from the UI or the API (ValueError otherwise)."""
    return check_int(name, value, 0, n - 1)


def digit_gallery(data: MnistSplits, n_shown: int = 40, label: str = "click a test digit") -> gr.Gallery:
    """A gallery of the first ``n_shown`` test digits (captions are their test indices);
    its ``select`` event gives the clicked index in ``gr.SelectData.index``."""
    return gr.Gallery(
        value=[(to_image(data.test_grey[i : i + 1], 1), f"#{i}") for i in range(min(n_shown, len(data.test_labels)))],
        label=label, columns=20, height=150, allow_preview=False, object_fit="contain",
        format="png", elem_classes=["pixelated"], buttons=[],
    )


def index_box(data: MnistSplits, label: str, value: int = 0) -> gr.Number:
    """A number box for a test-digit index."""
    return gr.Number(value=value, label=f"{label} (test #, 0-{len(data.test_labels) - 1})", precision=0, minimum=0, maximum=len(data.test_labels) - 1)


def bind_pick(gallery: gr.Gallery, box: gr.Number) -> None:
    """Clicking a digit in ``gallery`` puts its index into ``box``."""
    gallery.select(_picked, None, box, api_visibility="private", show_progress="hidden")


def _picked(evt: gr.SelectData) -> int:
    return int(evt.index)


@dataclass
class CheckpointPanel:
    """The "which model" box of a tab."""

    choice: gr.Dropdown
    source: gr.Textbox
    load: gr.Button
    upload: gr.UploadButton
    download: gr.DownloadButton
    info: gr.Markdown


def checkpoint_panel(family: str | Sequence[str], default: str, description: str, download: str | None = None) -> CheckpointPanel:
    """Bundled checkpoints of ``family`` (or of several families, e.g. ``("gan", "cgan")``:
    names equal to one or starting with it and a dash), a Hub repo id or folder box, Load,
    an upload of a checkpoint zip, a download of the current model (``download``: its
    zip) and the current model's ``description`` (markdown)."""
    families = (family,) if isinstance(family, str) else tuple(family)
    names = [n for n in bundled_names() if any(n == f or n.startswith(f + "-") for f in families)]
    family = families[0]
    with gr.Group():
        choice = gr.Dropdown(names, value=default, label="bundled checkpoint")
        source = gr.Textbox(label="or a Hub repo id (owner/name) or local folder", placeholder=f"e.g. someone/my-{family}", max_lines=1)
        with gr.Row():
            load = gr.Button("Load", variant="secondary")
            upload = gr.UploadButton("Upload a .zip", file_types=[".zip"], type="filepath", variant="secondary")
            download_btn = gr.DownloadButton("Download this model", value=download, variant="secondary")
    info = gr.Markdown(description)
    return CheckpointPanel(choice, source, load, upload, download_btn, info)


def stream_training(
    model: HubModel, data, config, stop: threading.Event, record: Callable, every_s: float = 0.3,
) -> Iterator[tuple]:
    """Run the trainer (``playground.core.training.train``) and pass on ``(event, history,
    learnt)`` every ``every_s`` seconds, at every event with samples, and at the end, for
    a tab's Train handler to turn into updates.

    Args:
        record: turns each event into a ``plots.training_curves`` history entry.

    Yields:
        (the event, the history so far (a list the caller must not change), ``learnt``:
        whether the model holds anything to keep: False only for a run that diverged
        before its first event).
    """
    from playground.core.training import train

    history: list[dict] = []
    last_yield = 0.0
    n_good = 0
    for event in train(model, data, config, stop=stop):
        history.append(record(event))
        n_good += not event.final
        now = time.perf_counter()
        if event.final or event.samples is not None or now - last_yield >= every_s:
            last_yield = now
            yield event, history, bool(n_good) or event.status != "diverged"


@dataclass
class TrainingPanel:
    """Train/Stop buttons, steps, learning rate, seed, a status line and the loss plot."""

    steps: gr.Slider | None  # None where the tab counts training in its own unit (epochs)
    lr: gr.Number
    seed: gr.Number
    train: gr.Button
    stop: gr.Button
    status: gr.Markdown
    curves: gr.Plot


def training_panel(
    prefix: str, steps: int | None, max_steps: int, lr: float, lr_label: str = "learning rate", lr_max: float = 0.1,
) -> TrainingPanel:
    """Build the shared training controls (family-specific settings go beside them);
    element ids start with ``prefix`` (e.g. ``vae-train-steps``). The learning-rate box
    is labelled ``lr_label`` and accepts [1e-5, ``lr_max``]. ``steps`` None leaves out
    the steps slider (for a tab that counts epochs)."""
    with gr.Row():
        steps_box = None
        if steps is not None:
            steps_box = gr.Slider(50, max_steps, value=steps, step=50, label="steps", elem_id=f"{prefix}-steps")
        lr_box = gr.Number(value=lr, label=f"{lr_label} (1e-5 to {lr_max:g})", minimum=1e-5, maximum=lr_max, elem_id=f"{prefix}-lr")
        seed_box = gr.Number(value=0, label="seed", precision=0, minimum=0, elem_id=f"{prefix}-seed")
    with gr.Row():
        train = gr.Button("Train", variant="primary", elem_id=f"{prefix}-button")
        stop = gr.Button("Stop", variant="stop", elem_id=f"{prefix}-stop")
    status = gr.Markdown(
        "Set the options and press **Train**: samples and curves update as it learns.", elem_id=f"{prefix}-status"
    )
    curves = gr.Plot(label="training curves", elem_id=f"{prefix}-curves")
    return TrainingPanel(steps_box, lr_box, seed_box, train, stop, status, curves)
