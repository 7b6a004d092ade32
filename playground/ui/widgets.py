"""What every tab shares: error handling, image outputs, the digit picker, independent
panels, and the checkpoint and training panels. A tab lays out its own controls around
these and binds thin handlers that validate, call its view and format.

The rule that keeps a tab working when one field is bad: every panel redraws from its
own inputs. After a Load, Restore or training run, each panel is redrawn by its own
event (``redraw_on``); a panel whose input is invalid says why in its own note and
leaves its pictures as they are, and the other panels are drawn as usual.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import gradio as gr
import torch

from models.checks import Range
from playground.core.checkpoints import bundled_names
from playground.core.data import MnistSplits
from playground.core.plots import image_grid
from playground.views.base import Context, FamilyViews

log = logging.getLogger(__name__)

INTERNAL_ERROR = "Something went wrong on the server ({kind}). Your model and settings are kept; the details are in the server log."
TEXT_DIR = Path(__file__).resolve().parent / "text"
LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]


# -- errors ------------------------------------------------------------------------------------------
def _message(err: Exception) -> str:
    """What a user is told about ``err``: a ``ValueError``'s own text (the library's
    checks), a hint for running out of memory, else only its kind (logged in full)."""
    if isinstance(err, gr.Error):
        return err.message
    if isinstance(err, torch.cuda.OutOfMemoryError | MemoryError):
        return "Out of memory: try a smaller model, batch or count. Your model and settings are kept."
    if isinstance(err, ValueError):
        return str(err)
    log.exception("handler failed")
    return INTERNAL_ERROR.format(kind=type(err).__name__)


def ui_handler(fn: Callable) -> Callable:
    """Wrap a handler (plain or generator) so that bad input becomes a readable
    ``gr.Error`` and any other failure a generic message, never a traceback on the page."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as err:
                raise gr.Error(_message(err)) from None

        return generator_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            raise gr.Error(_message(err)) from None

    return wrapper


def session_key(request: gr.Request | None) -> str:
    """The key of a browser session in the stop-flag registry ("anonymous" without a
    request, as when a test calls a handler directly)."""
    return request.session_hash if request else "anonymous"


def keep(value: Any) -> Any:
    """A view's None ("unchanged") as ``gr.skip()``, anything else as it is."""
    return gr.skip() if value is None else value


# -- pictures and pickers -------------------------------------------------------------------------------
def image_output(label: str, size: int = 280, **kwargs) -> gr.Image:
    """A read-only image box that shows small digit grids large and crisp (PNG, so grey
    levels stay exact; pixelated scaling)."""
    return gr.Image(
        label=label, height=size, format="png", interactive=False, buttons=["download", "fullscreen"],
        elem_classes=["pixelated", "fill"], **kwargs,
    )


def digit_gallery(data: MnistSplits, n_shown: int = 40, label: str = "click a test digit") -> gr.Gallery:
    """A gallery of the first ``n_shown`` test digits (captions are their test indices);
    its ``select`` event gives the clicked index in ``gr.SelectData.index``."""
    return gr.Gallery(
        value=[(image_grid(data.test_grey[i : i + 1], 1), f"#{i}") for i in range(min(n_shown, len(data.test_labels)))],
        label=label, columns=20, height=150, allow_preview=False, object_fit="contain",
        format="png", elem_classes=["pixelated"], buttons=[],
    )


def index_box(data: MnistSplits, label: str, value: int = 0, **kwargs) -> gr.Number:
    """A number box for a test-digit index. Its range is in its label and checked by the
    views, whose message names the field (Gradio's own range check would not)."""
    return gr.Number(value=value, label=f"{label} (test #, 0-{len(data.test_labels) - 1})", precision=0, **kwargs)


def seed_box(label: str = "seed", value: int = 0, **kwargs) -> gr.Number:
    """A number box for a random seed (0 to 2^31 - 1, checked by the views)."""
    return gr.Number(value=value, label=label, precision=0, **kwargs)


def slider(r: Range, label: str, step: float | None = None, **kwargs) -> gr.Slider:
    """A slider over the limits of ``r`` (one definition, shared with the view's check)."""
    return gr.Slider(r.low, r.high, value=r.default, step=step if step is not None else (1 if r.integer else None), label=label, **kwargs)


def bind_pick(gallery: gr.Gallery, box: gr.Number) -> None:
    """Clicking a digit in ``gallery`` puts its index into ``box``."""
    gallery.select(_picked, None, box, api_visibility="private", show_progress="hidden")


def _picked(evt: gr.SelectData) -> int:
    return int(evt.index)


def how_it_works(name: str) -> gr.Markdown:
    """The "How it works" page of a tab: ``playground/ui/text/<name>.md``, markdown with
    LaTeX."""
    return gr.Markdown((TEXT_DIR / f"{name}.md").read_text(encoding="utf-8"), latex_delimiters=LATEX)


# -- independent panels ---------------------------------------------------------------------------------
class PanelNote(gr.Markdown):
    """A panel's note: empty, or why the panel could not be drawn. It is left out of the
    API (``skip_api``), so a public endpoint that also clears the note keeps the outputs
    its clients know."""

    is_template = True  # drawn by the frontend's Markdown

    @property
    def skip_api(self) -> bool:
        return True


def panel_note(elem_id: str | None = None) -> PanelNote:
    """An empty note line for a panel (red text when it says something)."""
    return PanelNote("", elem_id=elem_id, elem_classes=["pg-note"])


# Inputs whose raw (not preprocessed) value a view checks by itself. An event that reads
# only these can skip Gradio's preprocessing, whose range errors name no field and fail
# the whole event.
_PLAIN_INPUTS = (gr.State, gr.Number, gr.Slider, gr.Dropdown, gr.Radio, gr.Checkbox, gr.Textbox)


def _quiet(fn: Callable[..., Any], n_outputs: int, prefix: str) -> Callable[..., tuple]:
    """``fn`` returning its outputs and an empty note, or, when it fails, every output
    unchanged and ``prefix`` and the reason in the note (never an error)."""

    def run(*values: Any) -> tuple:
        try:
            out = fn(*values)
        except Exception as err:  # noqa: BLE001 - any failure stays inside its panel
            return (*[gr.skip()] * n_outputs, f"⚠️ {prefix}{_message(err)}")
        out = out if isinstance(out, tuple | list) and n_outputs > 1 else (out,)
        return (*[keep(v) for v in out], "")

    return run


@dataclass
class Panel:
    """A part of a tab that redraws from its own inputs after the session's model changes.

    Attributes:
        redraw: ``(session state, *input values) -> output values`` (one value for one
            output), computing the panel for the session's current model; raises
            ``ValueError`` for a bad input.
        inputs: the components read (the tab's ``gr.State`` first).
        outputs: the components written.
        note: where the panel says why it could not be drawn.
    """

    redraw: Callable[..., Any]
    inputs: Sequence[gr.components.Component]
    outputs: Sequence[gr.components.Component]
    note: PanelNote

    def quietly(self, *values: Any) -> tuple:
        """``redraw`` for a refresh: its outputs and an empty note, or, when it fails,
        every output unchanged and the reason in the note (never an error: the other
        panels are being redrawn at the same time)."""
        return _quiet(self.redraw, len(self.outputs), "Not redrawn for this model: ")(*values)

    def on(self, triggers: Any, fn: Callable, inputs: Sequence, outputs: Sequence | None = None, **kwargs: Any) -> Any:
        """Bind a direct event of the panel (a button, a slider...): ``fn``'s outputs and
        an empty note on success (so a fixed input clears the panel's warning). A bad input
        is a ``gr.Error`` (a toast; an error for an API client), and then the note says
        what was wrong, as the view words it."""
        outputs = [*(self.outputs if outputs is None else outputs), self.note]
        handler = ui_handler(fn)
        n = len(outputs) - 1

        @functools.wraps(handler)
        def with_note(*args: Any, **kw: Any) -> tuple:
            out = handler(*args, **kw)
            return (*(out if isinstance(out, tuple | list) and n > 1 else (out,)), "")

        event = gr.on(triggers if isinstance(triggers, list) else [triggers], with_note, list(inputs), outputs, **kwargs)
        if all(isinstance(c, _PLAIN_INPUTS) for c in inputs):
            event.failure(_quiet(fn, n, ""), list(inputs), outputs, api_visibility="private", show_progress="hidden", preprocess=False)
        return event


def redraw_on(events: Sequence[Any], panels: Sequence[Panel]) -> None:
    """After each of ``events`` succeeds (a Load, Restore or training run: the session's
    model changed), redraw every panel, each by its own event, from its own inputs.
    Inputs are passed to the views as they are (the views check them), so a value out of
    a widget's range fails only its panel, with the view's message."""
    for event in events:
        for panel in panels:
            event.success(
                panel.quietly, list(panel.inputs), [*panel.outputs, panel.note], api_visibility="private", show_progress="minimal",
                preprocess=not all(isinstance(c, _PLAIN_INPUTS) for c in panel.inputs),
            )


# -- the checkpoint panel -----------------------------------------------------------------------------------
@dataclass
class CheckpointPanel:
    """The "which model" box of a tab: a bundled checkpoint, a Hub repo id or folder,
    Load, Upload a .zip, Restore the bundled model(s), Download this model, and the
    description of the session's model(s)."""

    choice: gr.Dropdown
    source: gr.Textbox
    load: gr.Button
    upload: gr.UploadButton
    restore: gr.Button
    download: gr.DownloadButton
    info: gr.Markdown
    note: PanelNote

    @classmethod
    def build(cls, families: Sequence[str], default: str, description: str, download: str | None = None, prefix: str = "") -> CheckpointPanel:
        """Lay out the panel: bundled checkpoints of ``families`` (names equal to one or
        starting with it and a dash), ``default`` chosen; ``description`` of the first
        session's models; ``download`` the path of its zip."""
        names = [n for n in bundled_names() if any(n == f or n.startswith(f + "-") for f in families)]
        with gr.Group():
            choice = gr.Dropdown(names, value=default, label="bundled checkpoint", elem_id=f"{prefix}-choice")
            source = gr.Textbox(
                value="", label="or a Hub repo id (owner/name) or local folder", placeholder=f"e.g. someone/my-{families[0]}",
                max_lines=1, elem_id=f"{prefix}-source",
            )
            with gr.Row():
                load = gr.Button("Load", variant="secondary", elem_id=f"{prefix}-load")
                upload = gr.UploadButton("Upload a .zip", file_types=[".zip"], type="filepath", variant="secondary")
                restore = gr.Button("Restore bundled", variant="secondary", elem_id=f"{prefix}-restore")
                download_btn = gr.DownloadButton("Download this model", value=download, variant="secondary", elem_id=f"{prefix}-download")
        info = gr.Markdown(description, label="the session's model", elem_id=f"{prefix}-info")
        return cls(choice, source, load, upload, restore, download_btn, info, panel_note())

    def bind(
        self, views: FamilyViews, state: gr.State, api: str, extra: Callable[[Any], tuple] | None = None,
        extra_outputs: Sequence = (), which: gr.components.Component | None = None, which_name: str = "which",
    ) -> list[Any]:
        """Bind Load (``{api}_load``), Upload (``{api}_load_zip``), Restore
        (``{api}_restore``) and Download (``{api}_download``, reading ``which`` of the
        session's models, when it has several; its API parameter is named ``which_name``).
        Each change of model also returns ``extra(session)`` to ``extra_outputs`` (what the
        tab's API gave after a load). Returns the three model-changing events, for
        ``redraw_on``."""

        def after(session: Any, loaded: str) -> tuple:
            gr.Info(loaded)
            return (session, views.describe(session), *(extra(session) if extra else ()))

        @ui_handler
        def load(state_value: Any, choice: Any, source: Any) -> tuple:
            session = views.session(state_value)
            return after(session, f"Loaded {views.load(session, choice, source)}")

        @ui_handler
        def load_zip(state_value: Any, path: Any) -> tuple:
            session = views.session(state_value)
            views.load_zip(session, path)
            return after(session, "Loaded the uploaded checkpoint")

        @ui_handler
        def restore(state_value: Any) -> tuple:
            session = views.session(state_value)
            views.restore(session)
            return after(session, "Restored the bundled model")

        @ui_handler
        def download(state_value: Any, which: Any = None) -> str:
            return views.download(views.session(state_value), which)

        load.__doc__ = "Load a checkpoint: the bundled name, or a Hub repo id (owner/name) or local folder when that box is not empty."
        load_zip.__doc__ = "Load a checkpoint zip, as Download this model gives it."
        restore.__doc__ = "Put the bundled model(s) back into this session."
        download.__doc__ = "This session's model (which one, where it has several) as a checkpoint zip: config.json, model.safetensors, model card."
        if which is not None:
            kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
            download.__signature__ = inspect.Signature([inspect.Parameter("state_value", kind), inspect.Parameter(which_name, kind, default=None)])
        outputs = [state, self.info, *extra_outputs]
        events = [
            self.load.click(load, [state, self.choice, self.source], outputs, api_name=f"{api}_load"),
            self.upload.upload(load_zip, [state, self.upload], outputs, api_name=f"{api}_load_zip"),
            self.restore.click(restore, state, outputs, api_name=f"{api}_restore"),
        ]
        # Picking a bundled name means "load this", so an old Hub id must not win.
        self.choice.input(lambda: "", None, self.source, api_visibility="private", show_progress="hidden")
        # A DownloadButton downloads the file it holds when clicked; its own click (the
        # API's {api}_download) returns that file, and a redraw keeps it current.
        self.download.click(download, [state, *([which] if which else [])], self.download, api_name=f"{api}_download", show_progress="hidden")
        return events

    def panel(self, views: FamilyViews, state: gr.State, which: gr.components.Component | None = None) -> Panel:
        """The panel that redraws the description and keeps the download button's file
        current (reading ``which`` of the session's models, when it has several)."""

        def redraw(state_value: Any, which: Any = None) -> tuple[str, str]:
            session = views.session(state_value)
            return views.describe(session), views.download(session, which)

        return Panel(redraw, [state, *([which] if which else [])], [self.info, self.download], self.note)


# -- the training panel -------------------------------------------------------------------------------------
class HasSessions(Protocol):
    """What the training binding needs of a tab's views: its session from a State value."""

    def session(self, state: Any) -> Any: ...


def bind_training(
    ctx: Context, views: HasSessions, key: str, train: gr.Button, stop: gr.Button, status: gr.Markdown, state: gr.State,
    run: Callable[..., Iterator[tuple]], inputs: Sequence, outputs: Sequence, api_name: str, stop_api: str | None,
    **kwargs: Any,
) -> Any:
    """Bind a Train button to a view's training stream and a Stop button to its flag.

    ``run(session, *values, stop=flag)`` is a generator of tuples for ``(status,
    *outputs)``, or for ``outputs`` alone when ``status`` is one of them (None: unchanged),
    that replaces the session's model in place when it ends. The handler starts this session's flag ``key`` (one run at a time per session
    and key), yields the session first (so the tab's State holds it and a Load made during
    the run is not undone), then the stream. Stop sets the flag: the run ends within a
    training step and keeps the weights reached; a cancelled generator would never yield
    its final model and status, so the flag is used instead of ``cancels``.

    Returns:
        The Train event (``.success`` of it: the session's model changed).
    """
    @ui_handler
    def handler(*args: Any) -> Iterator[tuple]:
        state_value, *values, request = args  # Gradio passes the request last (see the signature)
        session = views.session(state_value)
        hash_ = session_key(request)
        flag = ctx.sessions.start(hash_, key)
        try:
            stream = run(session, *values, stop=flag)
            first = next(stream)  # the settings are checked here, before anything is shown
            yield session, *[keep(v) for v in first]
            for update in stream:
                yield gr.skip(), *[keep(v) for v in update]
        finally:
            ctx.sessions.finish(hash_, key, flag)

    # Gradio names the API's parameters after the signature, and passes a gr.Request to a
    # positional parameter annotated with it.
    handler.__doc__ = run.__doc__
    handler.__signature__ = _signature(run)
    handler.__annotations__ = {"request": gr.Request}

    @ui_handler
    def stop_handler(request: gr.Request) -> str:
        """Ask this session's run to stop; it keeps the weights reached."""
        return "Stopping…" if ctx.sessions.set_flag(session_key(request), key) else "Nothing is training."

    shown = list(outputs) if any(o is status for o in outputs) else [status, *outputs]
    event = train.click(
        handler, [state, *inputs], [state, *shown], api_name=api_name,
        concurrency_limit=kwargs.pop("concurrency_limit", 2), concurrency_id=kwargs.pop("concurrency_id", "train"), **kwargs,
    )
    stop.click(stop_handler, None, status, api_name=stop_api or False, api_visibility="public" if stop_api else "private", concurrency_limit=None)
    return event


def _signature(fn: Callable) -> inspect.Signature:
    """``(state_value, <fn's parameters but session and stop>, request)``, all positional."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [q.replace(kind=kind) for name, q in inspect.signature(fn).parameters.items() if name not in ("self", "session", "stop")]
    return inspect.Signature(
        [inspect.Parameter("state_value", kind), *params, inspect.Parameter("request", kind, default=None, annotation=gr.Request)]
    )


@dataclass
class TrainingPanel:
    """Train/Stop buttons, steps (optional), learning rate, seed, a status line and the
    loss curves."""

    steps: gr.Slider | None
    lr: gr.Number
    seed: gr.Number
    train: gr.Button
    stop: gr.Button
    status: gr.Markdown
    curves: gr.Plot

    @classmethod
    def build(cls, prefix: str, steps: Range | None, lr: Range, lr_label: str = "learning rate", steps_step: int = 50) -> TrainingPanel:
        """The shared controls (family settings go beside them); element ids start with
        ``prefix`` (e.g. ``vae-train-steps``). ``steps`` None leaves out the steps slider
        (for a tab that counts epochs)."""
        with gr.Row():
            steps_box = slider(steps, "steps", step=steps_step, elem_id=f"{prefix}-steps") if steps is not None else None
            lr_box = gr.Number(
                value=lr.default, label=f"{lr_label} ({lr.low:g} to {lr.high:g})", minimum=lr.low, maximum=lr.high, elem_id=f"{prefix}-lr",
            )
            seed = seed_box(elem_id=f"{prefix}-seed")
        with gr.Row():
            train = gr.Button("Train", variant="primary", elem_id=f"{prefix}-button")
            stop = gr.Button("Stop", variant="stop", elem_id=f"{prefix}-stop")
        status = gr.Markdown(
            "Set the options and press **Train**: samples and curves update as it learns.", label="training status", elem_id=f"{prefix}-status",
        )
        curves = gr.Plot(label="training curves", elem_id=f"{prefix}-curves")
        return cls(steps_box, lr_box, seed, train, stop, status, curves)

    def bind(self, ctx: Context, views: FamilyViews, key: str, state: gr.State, run: Callable, inputs: Sequence, outputs: Sequence, api: str) -> Any:
        """``bind_training`` on this panel's buttons and status, as ``{api}_train`` and
        ``{api}_stop``; returns the Train event."""
        return bind_training(ctx, views, key, self.train, self.stop, self.status, state, run, inputs, outputs, f"{api}_train", f"{api}_stop")

