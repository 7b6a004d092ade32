"""The panels every tab has, and the tab itself: the checkpoint panel (``checkpoint_panel``),
the training panel and its Train/Stop binding, and ``Tab``, the base of every tab's
layout and handlers."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import gradio as gr

from models.checks import Range
from playground.core import worker
from playground.ui import inputs, zerogpu
from playground.ui.checkpoint_panel import CheckpointPanel
from playground.ui.widgets import Panel, image_output, keep, panel_note, seed_box, session_key, slider, ui_handler
from playground.views.base import Card, Context, FamilyViews, Step


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
    A ``run`` with a ``data`` parameter gets the images this session chose in "Your data"
    (``Context.training_data``), looked up in the app's process before the run starts
    (on ZeroGPU, ``zerogpu.training``, the run itself is in a worker process).

    A family's training (the default ``concurrency_id`` "train"; a toy run, e.g. the
    warm-up's, binds its own and stays as it was) first takes a place in the server's
    queue (``Context.trainings``: one per session across tabs, ``PLAYGROUND_MAX_TRAININGS``
    at once, the status line shows the place and expected wait; Stop leaves the line), then
    runs in a worker process (``core.worker.stream``: lower priority, one thread) when
    ``worker.enabled``, so that it cannot slow anyone's sliders.

    Returns:
        The Train event (``.success`` of it: the session's model changed).
    """
    takes_data = "data" in inspect.signature(run).parameters
    heavy = kwargs.get("concurrency_id", "train") == "train"  # a family's training; toy runs bind their own concurrency_id
    in_worker = heavy and worker.enabled(ctx.device) and not zerogpu.enabled()
    shown = list(outputs) if any(o is status for o in outputs) else [status, *outputs]
    at = next(i for i, o in enumerate(shown) if o is status)
    label = api_name.removesuffix("_train").replace("_", " ")

    session_run = _session_runner(ctx, views, key, run, takes_data, label, heavy, in_worker, at, len(shown))
    session_run.__signature__ = _signature(run, data=True)
    session_run.__annotations__ = {"request": gr.Request}
    zerogpu.share_views(ctx, views)  # on ZeroGPU: pickled by reference into the GPU worker (a fork of the app)
    if in_worker:
        worker.share_views(ctx, views)  # the same, for the training process
    on_device = zerogpu.training(session_run)

    @ui_handler
    def handler(*args: Any) -> Iterator[tuple]:
        # A run that takes ``data`` trains on the images this session chose in "Your data" (else the digits),
        # looked up here, in the app's process, and passed on (on ZeroGPU the run itself is in a worker process).
        yield from on_device(*args, data=ctx.training_data(session_key(args[-1])) if takes_data else None)

    # Gradio names the API's parameters after the signature, and passes a gr.Request to a
    # positional parameter annotated with it.
    handler.__doc__ = run.__doc__
    handler.__signature__ = _signature(run)
    handler.__annotations__ = {"request": gr.Request}

    @ui_handler
    def stop_handler(request: gr.Request) -> str:
        """Ask this session's run to stop; it keeps the weights reached."""
        return "Stopping…" if ctx.sessions.set_flag(session_key(request), key) else "Nothing is training."

    # A family's trainings wait in the server's own queue (ctx.trainings), which tells each its place, so Gradio's limit
    # only bounds the handlers: every running or waiting one.
    limit = ctx.trainings.max_running + ctx.trainings.max_waiting if heavy else 2
    event = train.click(
        handler, [state, *inputs], [state, *shown], api_name=api_name,
        concurrency_limit=kwargs.pop("concurrency_limit", limit), concurrency_id=kwargs.pop("concurrency_id", "train"), **kwargs,
    )
    stop.click(stop_handler, None, status, api_name=stop_api or False, api_visibility="public" if stop_api else "private", concurrency_limit=None)
    return event


def _session_runner(
    ctx: Context, views: HasSessions, key: str, run: Callable, takes_data: bool, label: str, heavy: bool, in_worker: bool, at: int, n: int,
) -> Callable:
    """``bind_training``'s run of one session: its flag, its place in the queue (``heavy``), then ``run`` (in a worker
    process when ``in_worker``); ``at`` is the status among the ``n`` outputs."""

    def line(text: str) -> tuple:
        return tuple(text if i == at else gr.skip() for i in range(n))

    def session_run(*args: Any, data: Any = None) -> Iterator[tuple]:
        state_value, *values, request = args  # Gradio passes the request last (see the signature)
        session = views.session(state_value)
        hash_ = session_key(request)
        flag = ctx.sessions.start(hash_, key)
        before = dict(getattr(session, "views", {}))
        ticket = None
        try:
            if heavy:  # the server's queue: one training per session, MAX_TRAININGS at once, the others told their place
                ticket = ctx.trainings.join(hash_, label)
                for waiting in ticket.wait(flag):
                    yield session, *line(waiting)
                if not ticket.running:
                    yield session, *line("Left the line: nothing was trained.")
                    return
            extra = {"data": data} if takes_data else {}
            stream = worker.stream(run, session, *values, stop=flag, **extra) if in_worker else run(session, *values, stop=flag, **extra)
            first = next(stream)  # the settings are checked here, before anything is shown
            yield session, *[keep(v) for v in first]
            for update in stream:
                yield gr.skip(), *[keep(v) for v in update]
        finally:
            if ticket is not None:
                ticket.done()
            ctx.sessions.finish(hash_, key, flag)
        if getattr(session, "views", before) != before:
            gr.Info(REPLACED)

    return session_run


REPLACED = "The model trained here now drives every panel of this tab (named in the bar at the top); ↺ Restore bundled brings the bundled one back."


def _signature(fn: Callable, data: bool = False) -> inspect.Signature:
    """``(state_value, <fn's parameters but session, stop and data>, request)``, all positional (and, with ``data``,
    a keyword-only ``data=None`` after them)."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [q.replace(kind=kind) for name, q in inspect.signature(fn).parameters.items() if name not in ("self", "session", "stop", "data")]
    extra = [inspect.Parameter("data", inspect.Parameter.KEYWORD_ONLY, default=None)] if data else []
    return inspect.Signature(
        [inspect.Parameter("state_value", kind), *params, inspect.Parameter("request", kind, default=None, annotation=gr.Request), *extra]
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
    data_line: gr.Markdown | None = None

    @classmethod
    def build(
        cls, prefix: str, steps: Range | None, lr: Range, lr_label: str = "learning rate", steps_step: int = 50, data_line: str | None = None,
    ) -> TrainingPanel:
        """The shared controls (family settings go beside them); element ids start with
        ``prefix`` (e.g. ``vae-train-steps``). ``steps`` None leaves out the steps slider
        (for a tab that counts epochs). ``data_line`` (markdown, e.g. ``DataViews.line``):
        a line above the controls naming the data a run trains on (``self.data_line``,
        kept current by the "Your data" tab); None for a tab whose data cannot change."""
        line = gr.Markdown(data_line, label="training data", elem_id=f"{prefix}-data", elem_classes=["pg-data-line"]) if data_line is not None else None
        with gr.Row():
            steps_box = slider(steps, "steps", step=steps_step, elem_id=f"{prefix}-steps") if steps is not None else None
            lr_box = inputs.Number(
                value=lr.default, label=f"{lr_label} ({lr.low:g} to {lr.high:g})", minimum=lr.low, maximum=lr.high, elem_id=f"{prefix}-lr",
            )
            seed = seed_box(elem_id=f"{prefix}-seed")
        with gr.Row():
            train = gr.Button("Train", variant="primary", elem_id=f"{prefix}-button")
            stop = gr.Button("Stop", variant="stop", elem_id=f"{prefix}-stop")
        status = gr.Markdown(
            "Set the options and press **Train**: samples and curves update as it learns. One training per visitor at a time; "
            "when the server is busy you wait in line, told your place (Stop leaves it).", label="training status", elem_id=f"{prefix}-status",
        )
        curves = gr.Plot(label="training curves", elem_id=f"{prefix}-curves")
        return cls(steps_box, lr_box, seed, train, stop, status, curves, line)

    def bind(self, ctx: Context, views: FamilyViews, key: str, state: gr.State, run: Callable, inputs: Sequence, outputs: Sequence, api: str) -> Any:
        """``bind_training`` on this panel's buttons and status, as ``{api}_train`` and
        ``{api}_stop``; returns the Train event."""
        return bind_training(ctx, views, key, self.train, self.stop, self.status, state, run, inputs, outputs, f"{api}_train", f"{api}_stop")


# -- tabs ---------------------------------------------------------------------------------------------
class Tab:
    """A tab of the app: its views (``views_class(ctx)``), its components and its thin
    handlers. Each handler takes the session from ``gr.State`` (None for a new browser
    session or an API client, which then gets the bundled models), calls the view and
    formats what it returns; the handlers' docstrings are what the API page shows.

    Every tab has the same chrome (``header``): the model bar (``CheckpointPanel``) with
    Restore and How it works beside it, then the guided tour (``tour``: numbered buttons
    that set controls and run a panel), then its sub-tabs (``pages``), the play-first
    view first and Train among the others. A subclass lays out and binds everything in
    ``build``; ``card`` is what the home tab says of it.
    """

    views_class: ClassVar[type]
    card: ClassVar[Card]
    tour: ClassVar[Sequence[Step]] = ()
    explain_tab: ClassVar[str] = ""  # the id of the "How it works" sub-tab

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.views = self.views_class(ctx)
        self.subtabs: gr.Tabs | None = None

    def build(self) -> None:
        """Lay out the tab inside the current Blocks and bind its events."""
        raise NotImplementedError

    def thumbnail(self) -> Any:
        """What the home tab's card shows: the bundled model's ``views.thumbnail``."""
        return self.views.thumbnail(self.views.session(None))

    def header(
        self, first: Any, families: Sequence[str], default: str, prefix: str, download_slot: Any = None, loader_extra: Callable[[], Any] | None = None,
    ) -> None:
        """The top of the tab: the model bar (``self.models``, with ``loader_extra`` laid out
        inside its loader), Restore bundled and How it works in one line, then the guided
        tour (``self.tour_buttons``, ``self.tour_text``)."""
        with gr.Row(equal_height=True, elem_classes=["pg-bar-row"]):
            self.models = CheckpointPanel.build(
                families, default, self.views.describe(first), self.views.download(first, download_slot), prefix=prefix,
                headline=self.views.headline(first), extra=loader_extra,
            )
            self.explain_btn = gr.Button("How it works", size="sm", scale=0, min_width=140, elem_id=f"{prefix}-explain")
        self._tour_row(prefix)

    def plain_header(self, prefix: str, headline: str) -> None:
        """The top of a tab with no checkpoints to load (the warm-up's closed-form fits):
        ``headline`` (markdown) with How it works beside it, then the guided tour."""
        with gr.Row(equal_height=True, elem_classes=["pg-bar-row"]):
            gr.Markdown(headline, elem_id=f"{prefix}-headline", elem_classes=["pg-headline"])
            self.explain_btn = gr.Button("How it works", size="sm", scale=0, min_width=140, elem_id=f"{prefix}-explain")
        self._tour_row(prefix)

    def _tour_row(self, prefix: str) -> None:
        """The guided tour's numbered buttons (``self.tour_buttons``) and its text (``self.tour_text``)."""
        self.tour_buttons: list[gr.Button] = []
        if self.tour:
            with gr.Row(equal_height=True, elem_classes=["pg-tour"]):
                gr.HTML("<b>Try this:</b>", elem_classes=["pg-tour-title"], padding=False, min_width=0)
                for i, step in enumerate(self.tour, 1):
                    self.tour_buttons.append(gr.Button(f"{i}. {step.title}", size="sm", min_width=120, elem_id=f"{prefix}-tour-{i}"))
            self.tour_text = gr.Markdown("", elem_id=f"{prefix}-tour-text", elem_classes=["pg-tour-text"])

    def samples_page(self, first: Any, label: str, elem_id: str) -> None:
        """A sub-tab of samples (``views.samples(session, seed)``): a seed with New samples
        (``self.seed``, ``self.resample``) beside the first session's samples
        (``self.sample_img``, with ``self.sample_note``)."""
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                self.sample_img = image_output(label, size=400, value=self.views.samples(first, 0), elem_id=elem_id)
                self.sample_note = panel_note()
            with gr.Column(scale=1, min_width=200):
                self.seed = seed_box("sample seed")
                self.resample = gr.Button("New samples", variant="primary")

    def pages(self, pages: Sequence[tuple[str, str, Callable[[], Any]]]) -> dict[str, gr.Tab]:
        """The sub-tabs (``tabs``), kept as ``self.subtabs`` for the tour and the home tab."""
        self.subtabs, shown = tabs(pages)
        return shown

    def tour_panels(self) -> dict[str, Panel]:
        """The panels a tour step may name in ``Step.run`` (by name)."""
        return {}

    def bind_chrome(self, state: gr.State) -> None:
        """Bind How it works (opens ``explain_tab``) and the tour's steps: each sets the
        step's controls and opens its sub-tab, then clicks its button (``"#id"``, in the
        browser, so the button's own checks, progress and Stop apply) or redraws one of
        ``tour_panels``."""
        self.explain_btn.click(lambda: gr.Tabs(selected=self.explain_tab), None, self.subtabs, api_visibility="private", show_progress="hidden")
        panels = self.tour_panels()
        for step, button in zip(self.tour, self.tour_buttons, strict=True):
            controls = [getattr(self, name) for name in step.values]

            def setup(step: Step = step) -> tuple:
                title = step.title if step.title[-1] in ".?!" else step.title + "."
                return (gr.Tabs(selected=step.tab), f"**{title}** {step.text}", *step.values.values())

            event = button.click(setup, None, [self.subtabs, self.tour_text, *controls], api_visibility="private", show_progress="hidden")
            if step.run.startswith("#"):
                event.then(None, None, None, js=CLICK_JS.replace("SELECTOR", step.run))
            elif step.run:
                panels[step.run].redraw_after(event.then)

    @classmethod
    def create(cls, ctx: Context) -> Tab:
        """The tab, built inside the current Blocks (its handlers and views are attributes)."""
        tab = cls(ctx)
        tab.build()
        return tab


# Clicks a button once it is rendered (a sub-tab renders when first opened) and enabled.
CLICK_JS = """
async () => {
  for (let i = 0; i < 100; i++) {
    const el = document.querySelector('SELECTOR');
    const button = el && (el.tagName === 'BUTTON' ? el : el.querySelector('button'));
    if (button && !button.disabled && button.offsetParent !== null) { button.click(); return; }
    await new Promise(r => setTimeout(r, 100));
  }
}
"""


def tabs(pages: Sequence[tuple[str, str, Callable[[], Any]]]) -> tuple[gr.Tabs, dict[str, gr.Tab]]:
    """``gr.Tabs`` with one ``gr.Tab(title, id=id)`` per page, each filled by its function;
    returns the Tabs (for ``gr.Tabs(selected=id)``) and the pages by id (for their
    ``select`` events)."""
    shown = {}
    with gr.Tabs() as group:
        for title, id_, fill in pages:
            with gr.Tab(title, id=id_) as shown[id_]:
                fill()
    return group, shown
