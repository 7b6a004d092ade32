"""What every tab shares: error handling, image outputs, the digit picker and independent
panels (the checkpoint and training panels and the ``Tab`` base are in ``panels``). A tab
lays out its own controls around these and binds thin handlers that validate, call its
view and format.

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
from typing import Any

import gradio as gr
import torch

from models.checks import Range
from playground.core import toy2d
from playground.core.data import MnistSplits
from playground.core.plots import image_grid
from playground.ui import inputs

log = logging.getLogger(__name__)

INTERNAL_ERROR = "Something went wrong on the server ({kind}). Your model and settings are kept; the details are in the server log."
TEXT_DIR = Path(__file__).resolve().parent / "text"
LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]


# -- errors ------------------------------------------------------------------------------------------
def _message(err: Exception) -> str:
    """What a user is told about ``err``: a ``ValueError``'s own text (the library's
    checks), a hint for running out of memory, else only its kind (logged in full).
    Never a path of the server, never a long quotation of the user's input (``inputs.public``)."""
    if isinstance(err, gr.Error):
        return inputs.public(err.message)
    if isinstance(err, torch.cuda.OutOfMemoryError | MemoryError):
        return "Out of memory: try a smaller model, batch or count. Your model and settings are kept."
    if isinstance(err, ValueError):
        return inputs.public(str(err))
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


def kept(stream: Iterator[tuple]) -> Iterator[tuple]:
    """A view's stream of updates with every None ("unchanged") as ``gr.skip()``."""
    for update in stream:
        yield tuple(keep(value) for value in update)


def reporter(progress: gr.Progress) -> Callable[[float, str], None]:
    """A view's ``progress(fraction, text)`` callback that moves Gradio's progress bar."""
    return lambda fraction, text: progress(fraction, desc=text)


# -- pictures and pickers -------------------------------------------------------------------------------
def image_output(label: str, size: int = 280, **kwargs) -> gr.Image:
    """A read-only image box that shows small digit grids large and crisp (PNG, so grey
    levels stay exact; pixelated scaling)."""
    return gr.Image(
        label=label, height=size, format="png", interactive=False, buttons=["download", "fullscreen"],
        elem_classes=["pixelated", "fill"], **kwargs,
    )


def digit_pad(label: str, elem_id: str, height: int = 340) -> inputs.Sketchpad:
    """A 280 x 280 sketchpad with a fixed black brush (18 px) for drawing a digit dark on light, as every tab that takes
    a drawing has it (``playground.core.drawing`` turns its value into a 28 x 28 digit)."""
    return inputs.Sketchpad(
        label=label, canvas_size=(280, 280), fixed_canvas=True, height=height, layers=False, transforms=(),
        brush=gr.Brush(colors=["#000000"], color_mode="fixed", default_size=18), elem_id=elem_id,
    )


def digit_gallery(data: MnistSplits, n_shown: int = 40, label: str = "click a test digit", columns: int = 20) -> gr.Gallery:
    """A gallery of the first ``n_shown`` test digits in ``columns`` columns (captions
    are their test indices), as tall as its rows (square cells that share the width, by
    the ``pg-digits`` CSS); its ``select`` event gives the clicked index in
    ``gr.SelectData.index``."""
    return gr.Gallery(
        value=[(image_grid(data.test_grey[i : i + 1], 1), f"#{i}") for i in range(min(n_shown, len(data.test_labels)))],
        label=label, columns=columns, height="fit-content", allow_preview=False, object_fit="contain",
        format="png", elem_classes=["pixelated", "pg-digits"], buttons=[],
    )


def index_box(data: MnistSplits, label: str, value: int = 0, **kwargs) -> gr.Number:
    """A number box for a test-digit index. Its range is in its label and checked by the
    views, whose message names the field (Gradio's own range check would not)."""
    return inputs.Number(value=value, label=f"{label} (test #, 0-{len(data.test_labels) - 1})", precision=0, **kwargs)


def seed_box(label: str = "seed", value: int = 0, **kwargs) -> gr.Number:
    """A number box for a random seed (0 to 2^31 - 1, checked by the views)."""
    return inputs.Number(value=value, label=label, precision=0, **kwargs)


def slider(r: Range, label: str, step: float | None = None, **kwargs) -> gr.Slider:
    """A slider over the limits of ``r`` (one definition, shared with the view's check)."""
    return inputs.Slider(r.low, r.high, value=r.default, step=step if step is not None else (1 if r.integer else None), label=label, **kwargs)


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

    def redraw_after(self, then: Callable[..., Any]) -> Any:
        """Bind ``quietly`` to ``then`` (an event's ``.success`` or ``.then``): the panel
        redrawn from its own inputs, passed as they are when the views check them all."""
        return then(
            self.quietly, list(self.inputs), [*self.outputs, self.note], api_visibility="private", show_progress="minimal",
            preprocess=not all(isinstance(c, _PLAIN_INPUTS) for c in self.inputs),
        )

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
            panel.redraw_after(event.success)


@dataclass
class PointsBox:
    """A user's own 2-D points for a panel (the 2D GAN lab, the warm-up's likelihood and
    mixture): a sketchpad, a CSV file or pasted CSV, in a closed accordion; the views
    parse them with ``toy2d.points_from_sketch`` / ``points_from_csv``."""

    sketch: gr.Sketchpad
    use_drawing: gr.Button
    csv_file: gr.File
    csv_text: gr.Textbox
    use_csv: gr.Button

    @classmethod
    def build(cls, prefix: str, label: str = "draw the data", hint: str = "", canvas: int = 320, side_by_side: bool = True) -> PointsBox:
        """Lay out the accordion; element ids ``{prefix}-sketch``, ``-use-drawing``,
        ``-csv-file``, ``-csv-text``, ``-use-csv``; ``hint`` (markdown) under it;
        ``side_by_side``: the CSV ways beside the pad rather than under it."""
        with gr.Accordion("Your own points: draw or give a CSV", open=False), gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                sketch = inputs.Sketchpad(
                    label=label, canvas_size=(canvas, canvas), fixed_canvas=True, height=canvas + 80, layers=False, transforms=(),
                    brush=gr.Brush(colors=["#000000"], color_mode="fixed", default_size=6), elem_id=f"{prefix}-sketch",
                )
                use_drawing = gr.Button("Use my drawing", elem_id=f"{prefix}-use-drawing")
                if not side_by_side:
                    csv_file, csv_text, use_csv = cls._csv_ways(prefix, hint)
            if side_by_side:
                with gr.Column(scale=1, min_width=300):
                    csv_file, csv_text, use_csv = cls._csv_ways(prefix, hint)
        return cls(sketch, use_drawing, csv_file, csv_text, use_csv)

    @staticmethod
    def _csv_ways(prefix: str, hint: str) -> tuple[gr.File, gr.Textbox, gr.Button]:
        csv_file = gr.File(
            label=f"CSV file: two numeric columns x, y (a header is fine; ≤ {toy2d.MAX_POINTS:,} rows)", file_types=[".csv", ".txt"],
            type="filepath", elem_id=f"{prefix}-csv-file",
        )
        csv_text = inputs.Textbox(value="", label="or paste CSV", placeholder="x,y\n0.1,2.3\n-1.0,0.4", lines=4, max_lines=12, elem_id=f"{prefix}-csv-text")
        use_csv = gr.Button("Use pasted points", elem_id=f"{prefix}-use-csv")
        if hint:
            gr.Markdown(hint)
        return csv_file, csv_text, use_csv

    def ways(self) -> dict[str, tuple[Any, gr.components.Component]]:
        """{kind: (trigger, the component holding the value)} for the kinds "drawn",
        "csv_file" and "csv_text" (the views' names)."""
        return {"drawn": (self.use_drawing.click, self.sketch), "csv_file": (self.csv_file.upload, self.csv_file), "csv_text": (self.use_csv.click, self.csv_text)}
