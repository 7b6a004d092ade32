"""A check every tab's UI test runs: panels redraw independently of each other."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from types import SimpleNamespace
from typing import Any

import gradio as gr
import torch

from playground.views.base import Context

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


def build_tab(tab_class: Any, data: Any) -> tuple[gr.Blocks, Any]:
    """A tab built on the CPU inside Blocks of its own: (the Blocks, the tab)."""
    with gr.Blocks() as demo:
        tab = tab_class.create(Context(torch.device("cpu"), data))
    return demo, tab


def redraw_all(panels: Sequence[Any], session: Any, bad: Any = None, value: Any = None) -> dict[int, tuple]:
    """Every panel's redraw (outputs, then the note), with the input ``bad`` set to
    ``value``, keyed by the id of the panel's first output."""
    results = {}
    for panel in panels:
        values = [session if isinstance(c, gr.State) else (value if c is bad else c.value) for c in panel.inputs]
        results[id(panel.outputs[0])] = panel.quietly(*values)
    return results


def check_around_a_load(tab: Any, name: str, minimum: int) -> Any:
    """On a new session of ``tab``: at least ``minimum`` inputs each break only their own
    panel; then Load ``name``: every panel draws, and each input still breaks only its own.
    Returns the session (for a brief training next)."""
    session = tab.views.session(None)
    assert check_panels_independent(tab.panels(), session) >= minimum
    tab.views.load(session, name, "")
    check_panels_draw(tab.panels(), session)
    check_panels_independent(tab.panels(), session)
    return session


def check_tour(demo: gr.Blocks, tab: Any) -> None:
    """The tab's chrome is whole: its first sub-tab is the card's play-first view, How it
    works and every tour step's sub-tab exist, the tour has 3 to 5 steps, each step sets
    controls of the tab and runs a button of the page or a panel that then draws from the
    step's values (its note empty)."""
    ids = [t.id for t in tab.subtabs.children]
    assert ids[0] == tab.card.tab, ids
    assert tab.explain_tab in ids and "train" in " ".join(ids[1:]), ids
    assert 3 <= len(tab.tour) <= 5
    elem_ids = {getattr(block, "elem_id", None) for block in demo.blocks.values()}
    panels = tab.tour_panels()
    session = tab.views.session(None)
    for step in tab.tour:
        assert step.tab in ids, step
        assert 0 < len(step.title) <= 32 and step.text, step
        controls = {id(getattr(tab, name)): value for name, value in step.values.items()}
        assert all(isinstance(getattr(tab, name), gr.components.Component) for name in step.values), step
        if step.run.startswith("#"):
            assert step.run[1:] in elem_ids, step
            continue
        panel = panels[step.run]
        assert set(controls) <= {id(c) for c in panel.inputs}, step
        values = [session if isinstance(c, gr.State) else controls.get(id(c), c.value) for c in panel.inputs]
        *outputs, note = panel.quietly(*values)
        assert note == "", (step.title, note)
        assert not all(isinstance(o, SKIP) for o in outputs), step.title


def endpoint(demo: gr.Blocks, api_name: str) -> Callable[..., Any]:
    """The function behind the app's API endpoint ``api_name`` (as ``gradio_client`` would reach it)."""
    return next(f.fn for f in demo.fns.values() if f.api_name == api_name)


def session_request(name: str = "alice") -> Any:
    """A stand-in for ``gr.Request`` of the browser session ``name`` (its ``session_hash``)."""
    return SimpleNamespace(session_hash=name)


def blocks_in(block: Any) -> Iterator[Any]:
    """``block`` and every block inside it."""
    yield block
    for child in getattr(block, "children", None) or []:
        yield from blocks_in(child)


def check_readable_error(demo: gr.Blocks, api_name: str, args: Sequence[Any], message: str) -> None:
    """Calling the endpoint ``api_name`` with ``args`` raises a gr.Error matching ``message``
    (a regex), with no traceback and no generic "went wrong" in it."""
    import pytest

    with pytest.raises(gr.Error, match=message) as err:
        endpoint(demo, api_name)(*args)
    assert "Traceback" not in err.value.message and "went wrong" not in err.value.message
