"""The home tab: what a generative model is (the taxonomy), and one card per family with
a live thumbnail of its bundled model, what it teaches, a "try this first" button that
opens its play-first view, and what that takes on 2 CPU cores."""

from __future__ import annotations

from collections.abc import Sequence

import gradio as gr

from playground.ui.panels import Tab
from playground.ui.widgets import LATEX, TEXT_DIR


def _seconds(seconds: float) -> str:
    """A card's time, rounded as a person reads it."""
    if seconds < 1:
        return "instant (under 1 s)"
    if seconds < 90:
        return f"about {seconds:.0f} s"
    return f"about {seconds / 60:.0f} min"


class Home:
    """The home tab's layout (``build``) and its buttons' binding (``bind``, once the
    family tabs exist)."""

    def __init__(self, families: Sequence[tuple[str, Tab]], about: str):
        self.families = families
        self.about = about
        self.buttons: list[gr.Button] = []

    def build(self) -> None:
        """Lay out the taxonomy and the cards inside the current tab."""
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                gr.Markdown((TEXT_DIR / "home.md").read_text(encoding="utf-8"), latex_delimiters=LATEX, elem_id="home-intro")
            with gr.Column(scale=2, min_width=280):
                gr.Markdown(self.about, elem_id="home-about", elem_classes=["pg-about"])
        with gr.Row(equal_height=True, elem_classes=["pg-cards"]):
            for id_, tab in self.families:
                card = tab.card
                with gr.Column(min_width=136, elem_classes=["pg-card"], elem_id=f"home-card-{id_}"):
                    gr.HTML(f"<div class='pg-card-title'>{card.title}</div><div class='pg-kind'>{card.kind}</div>", padding=False)
                    thumb = tab.thumbnail()
                    if isinstance(thumb, str):
                        gr.Audio(thumb, show_label=False, interactive=False, type="filepath", elem_id=f"home-thumb-{id_}", elem_classes=["pg-thumb"])
                    else:
                        gr.Image(
                            thumb, show_label=False, height=110, interactive=False, format="png", buttons=[],
                            elem_classes=["pixelated", "fill", "pg-thumb"], elem_id=f"home-thumb-{id_}",
                        )
                    self.buttons.append(gr.Button(f"▶ {card.try_first}", variant="primary", size="sm", elem_id=f"home-try-{id_}"))
                    gr.Markdown(f"{card.teaches}  \n<small>On 2 CPU cores: {_seconds(card.seconds)}</small>", elem_classes=["pg-teaches"])

    def bind(self, outer: gr.Tabs) -> None:
        """Each card's button opens its family's tab on the card's sub-tab."""
        for button, (id_, tab) in zip(self.buttons, self.families, strict=True):
            button.click(
                lambda id_=id_, sub=tab.card.tab: (gr.Tabs(selected=id_), gr.Tabs(selected=sub)), None, [outer, tab.subtabs],
                api_visibility="private", show_progress="hidden",
            ).then(None, None, None, js="() => window.scrollTo(0, 0)")  # the view opens at the top, however far down the card was
