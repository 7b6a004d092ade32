"""The panels every tab has, and the tab itself: the checkpoint panel (Load, Upload,
Restore bundled, Download), the training panel and its Train/Stop binding, and ``Tab``,
the base of every tab's layout and handlers."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import gradio as gr

from models.checks import Range
from playground.core.checkpoints import bundled_names
from playground.ui.widgets import Panel, PanelNote, image_output, keep, panel_note, seed_box, session_key, slider, ui_handler
from playground.views.base import Card, Context, FamilyViews, Step


# -- the checkpoint panel -----------------------------------------------------------------------------------
@dataclass
class CheckpointPanel:
    """The "which model" bar of a tab: one line naming the session's model(s) that opens
    onto the loader (a bundled checkpoint, a Hub repo id or folder, Load, Upload a .zip,
    Download this model and the description), with Restore bundled beside it, always
    visible."""

    bar: gr.Accordion
    choice: gr.Dropdown
    source: gr.Textbox
    load: gr.Button
    upload: gr.UploadButton
    restore: gr.Button
    download: gr.DownloadButton
    info: gr.Markdown
    note: PanelNote

    @classmethod
    def build(
        cls, families: Sequence[str], default: str, description: str, download: str | None = None, prefix: str = "", headline: str = "",
        extra: Callable[[], Any] | None = None,
    ) -> CheckpointPanel:
        """Lay out the bar (inside the current row): ``headline`` (the session's models,
        ``FamilyViews.headline``) opening onto bundled checkpoints of ``families`` (names
        equal to one or starting with it and a dash), ``default`` chosen; ``description``
        of the first session's models; ``download`` the path of its zip; ``extra`` lays out
        more of the loader (under the description)."""
        names = [n for n in bundled_names() if any(n == f or n.startswith(f + "-") for f in families)]
        with gr.Column(scale=6, min_width=300), gr.Accordion(_bar_label(headline), open=False, elem_id=f"{prefix}-bar", elem_classes=["pg-loader"]) as bar:
            with gr.Row():
                choice = gr.Dropdown(names, value=default, label="bundled checkpoint", elem_id=f"{prefix}-choice", min_width=160)
                source = gr.Textbox(
                    value="", label="or a Hub repo id (owner/name) or local folder", placeholder=f"e.g. someone/my-{families[0]}",
                    max_lines=1, elem_id=f"{prefix}-source", scale=2,
                )
            with gr.Row():
                load = gr.Button("Load", variant="secondary", elem_id=f"{prefix}-load")
                upload = gr.UploadButton("Upload a .zip", file_types=[".zip"], type="filepath", variant="secondary")
                download_btn = gr.DownloadButton("Download this model", value=download, variant="secondary", elem_id=f"{prefix}-download")
            info = gr.Markdown(description, label="the session's model", elem_id=f"{prefix}-info")
            if extra is not None:
                extra()
        restore = gr.Button("↺ Restore bundled", variant="secondary", size="sm", scale=0, min_width=150, elem_id=f"{prefix}-restore")
        return cls(bar, choice, source, load, upload, restore, download_btn, info, panel_note())

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
            return (session, views.describe(session), _bar_update(views, session), *(extra(session) if extra else ()))

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
        outputs = [state, self.info, self.bar, *extra_outputs]
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

        def redraw(state_value: Any, which: Any = None) -> tuple:
            session = views.session(state_value)
            return views.describe(session), views.download(session, which), _bar_update(views, session)

        return Panel(redraw, [state, *([which] if which else [])], [self.info, self.download, self.bar], self.note)


def _bar_label(headline: str) -> str:
    return f"{headline} · change…"


def _bar_update(views: FamilyViews, session: Any) -> dict:
    """The model bar naming the session's model(s) (closed again after a change)."""
    return gr.update(label=_bar_label(views.headline(session)))


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
        before = dict(getattr(session, "views", {}))
        try:
            stream = run(session, *values, stop=flag)
            first = next(stream)  # the settings are checked here, before anything is shown
            yield session, *[keep(v) for v in first]
            for update in stream:
                yield gr.skip(), *[keep(v) for v in update]
        finally:
            ctx.sessions.finish(hash_, key, flag)
        if getattr(session, "views", before) != before:
            gr.Info(REPLACED)

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


REPLACED = "The model trained here now drives every panel of this tab (named in the bar at the top); ↺ Restore bundled brings the bundled one back."


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
