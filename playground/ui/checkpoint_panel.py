"""The checkpoint panel every tab has: the model bar (Load, Upload, Restore bundled,
Download) and Push to the Hub, with their bindings."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr

from playground.core.checkpoints import bundled_names, folders_allowed
from playground.ui import inputs
from playground.ui.widgets import Panel, PanelNote, panel_note, ui_handler
from playground.views.base import FamilyViews


@dataclass
class CheckpointPanel:
    """The "which model" bar of a tab: one line naming the session's model(s) that opens
    onto the loader (a bundled checkpoint, a Hub repo id or folder, Load, Upload a .zip,
    Download this model, the description and Push to the Hub: a repo id, a token, private
    or not), with Restore bundled beside it, always visible."""

    bar: gr.Accordion
    choice: gr.Dropdown
    source: gr.Textbox
    load: gr.Button
    upload: gr.UploadButton
    restore: gr.Button
    download: gr.DownloadButton
    info: gr.Markdown
    note: PanelNote
    push_repo: gr.Textbox
    push_token: gr.Textbox
    push_private: gr.Checkbox
    push: gr.Button
    push_note: gr.Markdown

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
                choice = inputs.Dropdown(names, value=default, label="bundled checkpoint", elem_id=f"{prefix}-choice", min_width=160)
                source = inputs.Textbox(
                    value="", label="or a Hub repo id (owner/name)" + (" or server folder" if folders_allowed() else ""), placeholder=f"e.g. someone/my-{families[0]}",
                    max_lines=1, elem_id=f"{prefix}-source", scale=2,
                )
            with gr.Row():
                load = gr.Button("Load", variant="secondary", elem_id=f"{prefix}-load")
                upload = gr.UploadButton("Upload a .zip", file_types=[".zip"], type="filepath", variant="secondary")
                download_btn = gr.DownloadButton("Download this model", value=download, variant="secondary", elem_id=f"{prefix}-download")
            info = gr.Markdown(description, label="the session's model", elem_id=f"{prefix}-info")
            if extra is not None:
                extra()
            with gr.Row(equal_height=True):
                push_repo = inputs.Textbox(value="", label="push to a Hub repo (owner/name)", placeholder=f"your-name/my-{families[0]}", max_lines=1, elem_id=f"{prefix}-push-repo", scale=2)
                push_token = inputs.Textbox(value="", label="your Hugging Face token (write; used once, never stored)", type="password", max_lines=1, elem_id=f"{prefix}-push-token", scale=2)
                push_private = inputs.Checkbox(label="private", value=False, elem_id=f"{prefix}-push-private", min_width=90)
                push = gr.Button("Push to the Hub", variant="secondary", elem_id=f"{prefix}-push")
            push_note = gr.Markdown("", label="where it was pushed", elem_id=f"{prefix}-push-note")
        restore = gr.Button("↺ Restore bundled", variant="secondary", size="sm", scale=0, min_width=150, elem_id=f"{prefix}-restore")
        return cls(bar, choice, source, load, upload, restore, download_btn, info, panel_note(), push_repo, push_token, push_private, push, push_note)

    def bind(
        self, views: FamilyViews, state: gr.State, api: str, extra: Callable[[Any], tuple] | None = None,
        extra_outputs: Sequence = (), which: gr.components.Component | None = None, which_name: str = "which",
    ) -> list[Any]:
        """Bind Load (``{api}_load``), Upload (``{api}_load_zip``), Restore
        (``{api}_restore``), Download (``{api}_download``) and Push to the Hub
        (``{api}_push``); the last two read ``which`` of the session's models, when it has
        several (its API parameter is named ``which_name``).
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

        load.__doc__ = "Load a checkpoint: the bundled name, or a Hub repo id (owner/name) when that box is not empty (a folder of the server only where PLAYGROUND_ALLOW_FOLDERS=1). The Hub is given 5 s to answer."
        load_zip.__doc__ = "Load a checkpoint zip, as Download this model gives it."
        restore.__doc__ = "Put the bundled model(s) back into this session."
        download.__doc__ = "This session's model (which one, where it has several) as a checkpoint zip: config.json, model.safetensors, model card."
        if which is not None:
            _name_which(download, which_name)
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
        self._bind_push(views, state, api, which, which_name)
        return events

    def _bind_push(self, views: FamilyViews, state: gr.State, api: str, which: gr.components.Component | None, which_name: str) -> None:
        """Bind Push to the Hub (``{api}_push``) to ``views.push``; the token box is emptied after every push, done or refused."""

        @ui_handler
        def push(state_value: Any, repo_id: Any, token: Any, private: Any, which: Any = None) -> str:
            """Push this session's model (which one, where it has several) to a Hugging Face Hub repo (owner/name) with a write
            token (used for this push only, never stored), private or public: config.json, model.safetensors and a card naming
            the data, a command that trains one like it and the metrics, with a grid of samples for a model that draws images.
            Returns "Pushed to <url>" (markdown)."""
            return views.push(views.session(state_value), which, repo_id, token, private)

        if which is not None:
            _name_which(push, which_name)
        inputs = [state, self.push_repo, self.push_token, self.push_private, *([which] if which else [])]
        event = self.push.click(push, inputs, self.push_note, api_name=f"{api}_push")
        event.then(lambda: "", None, self.push_token, api_visibility="private", show_progress="hidden")

    def panel(self, views: FamilyViews, state: gr.State, which: gr.components.Component | None = None) -> Panel:
        """The panel that redraws the description and keeps the download button's file
        current (reading ``which`` of the session's models, when it has several)."""

        def redraw(state_value: Any, which: Any = None) -> tuple:
            session = views.session(state_value)
            return views.describe(session), views.download(session, which), _bar_update(views, session)

        return Panel(redraw, [state, *([which] if which else [])], [self.info, self.download, self.bar], self.note)


def _name_which(handler: Callable, which_name: str) -> None:
    """Name the last parameter of ``handler`` (``which``: the session's model it reads)
    ``which_name`` on the API page (e.g. "family")."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    *names, _ = inspect.signature(handler).parameters
    handler.__signature__ = inspect.Signature([*(inspect.Parameter(n, kind) for n in names), inspect.Parameter(which_name, kind, default=None)])


def _bar_label(headline: str) -> str:
    return f"{headline} · change…"


def _bar_update(views: FamilyViews, session: Any) -> dict:
    """The model bar naming the session's model(s) (closed again after a change)."""
    return gr.update(label=_bar_label(views.headline(session)))
