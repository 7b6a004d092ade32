"""A check every tab's UI test runs: panels redraw independently of each other."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gradio as gr

SKIP = type(gr.skip())


def invalid_value(component: Any) -> Any:
    """A value the component's panel must refuse (as a gradio_client call can send it,
    past the widget's own limits)."""
    if isinstance(component, gr.Checkbox):
        return "maybe"
    if isinstance(component, gr.Number | gr.Slider):
        return 10**12
    if isinstance(component, gr.Dropdown | gr.Radio):
        return "not-a-choice"
    return "1, 2, banana, -5"


def check_panels_independent(panels: Sequence[Any], session: Any, invalid: Callable[[Any], Any] = invalid_value) -> int:
    """For every input of every panel: with that one input invalid, every panel that reads
    it leaves its outputs as they are and says why in its note, and every other panel is
    drawn (its outputs change, its note is empty). Returns how many inputs were tried."""
    tried = 0
    inputs = {id(c): c for p in panels for c in p.inputs if not isinstance(c, gr.State)}
    for bad in inputs.values():
        tried += 1
        for panel in panels:
            values = [session if isinstance(c, gr.State) else (invalid(c) if c is bad else c.value) for c in panel.inputs]
            *outputs, note = panel.quietly(*values)
            label = getattr(bad, "label", None) or getattr(bad, "elem_id", None)
            if any(c is bad for c in panel.inputs):
                assert note.startswith("⚠️") and len(note) > 30, (label, note)
                assert all(isinstance(o, SKIP) for o in outputs), label
            else:
                assert note == "", (label, panel.outputs, note)
                assert not all(isinstance(o, SKIP) for o in outputs), (label, panel.outputs)
    return tried


def check_panels_draw(panels: Sequence[Any], session: Any) -> None:
    """With every input as the page shows it, every panel draws and its note is empty."""
    for panel in panels:
        values = [session if isinstance(c, gr.State) else c.value for c in panel.inputs]
        *outputs, note = panel.quietly(*values)
        assert note == "", (panel.outputs, note)
        assert not all(isinstance(o, SKIP) for o in outputs), panel.outputs
