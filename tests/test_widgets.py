"""The shared UI layer: error handling, independent panels, the Train/Stop binding, and
the names of trained models."""

from __future__ import annotations

import time
from types import SimpleNamespace

import gradio as gr
import pytest

from playground.core.training import TrainEvent
from playground.ui.panels import bind_training
from playground.ui.widgets import Panel, panel_note, ui_handler
from playground.views.base import Context, FamilyViews, Session, trained_name

SKIP = type(gr.skip())


def test_value_errors_are_shown_as_they_are_and_other_errors_only_by_kind(caplog):
    @ui_handler
    def bad_value():
        raise ValueError("seed must be in [0, 2147483647], got -1")

    @ui_handler
    def broken():
        raise RuntimeError("secret internals")

    with pytest.raises(gr.Error, match=r"seed must be in \[0, 2147483647\], got -1"):
        bad_value()
    with pytest.raises(gr.Error) as info:
        broken()
    assert "secret" not in str(info.value) and "RuntimeError" in str(info.value)
    assert "secret internals" in caplog.text


def test_a_failing_panel_keeps_its_outputs_and_says_why():
    with gr.Blocks():
        a, b, note = gr.Number(), gr.Image(), panel_note()

    def redraw(state, value):
        if value > 3:
            raise ValueError(f"digit must be in [0, 3], got {value}")
        return value, "picture"

    panel = Panel(redraw, [gr.State(), a], [a, b], note)
    assert panel.quietly(None, 2) == (2, "picture", "")
    *outputs, message = panel.quietly(None, 7)
    assert all(isinstance(o, SKIP) for o in outputs) and message == "⚠️ Not redrawn for this model: digit must be in [0, 3], got 7"
    panel = Panel(lambda state: None, [gr.State()], [b], note)
    assert isinstance(panel.quietly(None)[0], SKIP)  # a view's None: unchanged


def test_a_panel_note_is_left_out_of_the_api():
    with gr.Blocks() as demo:
        number, note, out = gr.Number(label="n"), panel_note(), gr.Markdown(label="answer")
        with gr.Row():
            button = gr.Button()
        Panel(lambda n: n, [number], [out], note).on(button.click, lambda n: f"{n}", [number], api_name="echo")
    returns = demo.get_api_info()["named_endpoints"]["/echo"]["returns"]
    assert [r["label"] for r in returns] == ["answer"]


class _Views(FamilyViews):
    """A FamilyViews without models: the session is a plain Session."""

    def session(self, state):
        return state if isinstance(state, Session) else Session({})


@pytest.fixture
def training(data, monkeypatch):
    """A Train/Stop binding over a fake run: (train handler, stop handler, log of runs). The run stays in this process
    (``PLAYGROUND_TRAINING_PROCESS=0``), so that it can log; tests/test_worker.py runs the same binding in a worker."""
    monkeypatch.setenv("PLAYGROUND_TRAINING_PROCESS", "0")
    ctx = Context("cpu", data)
    views = _Views(ctx)
    runs = []

    def run(session, steps, *, stop):
        """Count to steps (checked first)."""
        if not 1 <= steps <= 1000:
            raise ValueError(f"steps must be in [1, 1000], got {steps}")
        yield ("Starting…", None)
        for i in range(steps):
            if stop.is_set():
                runs.append(("stopped", i))
                yield (f"stopped at {i}", i)
                return
            time.sleep(0.01)
            yield (f"step {i}", None)
        runs.append(("done", steps))

    with gr.Blocks() as demo:
        state, steps, status, out = gr.State(), gr.Number(label="steps"), gr.Markdown(label="status"), gr.Number(label="out")
        train, stop = gr.Button(), gr.Button()
        event = bind_training(ctx, views, "toy", train, stop, status, state, run, [steps], [out], "toy_train", "toy_stop")
    stop_fn = next(f.fn for f in demo.fns.values() if f.api_name == "toy_stop")
    return event.fn, stop_fn, ctx, runs, demo


def _request(name):
    return SimpleNamespace(session_hash=name)


def test_train_yields_the_session_first_then_the_stream_with_unchanged_outputs_skipped(training):
    train, _, ctx, runs, _ = training
    outputs = list(train(None, 3, _request("ann")))
    session, status, out = outputs[0]
    assert isinstance(session, Session) and status == "Starting…" and isinstance(out, SKIP)
    assert all(isinstance(o[0], SKIP) for o in outputs[1:]) and outputs[-1][1] == "step 2"
    assert runs == [("done", 3)] and len(ctx.sessions) == 0


def test_bad_settings_are_refused_before_anything_is_shown(training):
    train, _, ctx, runs, _ = training
    with pytest.raises(gr.Error, match=r"steps must be in \[1, 1000\], got 0"):
        next(train(None, 0, _request("bea")))
    assert runs == [] and len(ctx.sessions) == 0


def test_stop_ends_the_run_at_its_next_step_and_one_run_per_session(training):
    train, stop, ctx, runs, _ = training
    first = train(None, 1000, _request("cat"))
    next(first)
    next(first)
    with pytest.raises(gr.Error, match="already training"):
        next(train(None, 5, _request("cat")))
    assert stop(_request("cat")) == "Stopping…"
    start = time.perf_counter()
    last = list(first)[-1]
    assert time.perf_counter() - start < 0.5 and last[1].startswith("stopped at")
    assert runs[-1][0] == "stopped" and len(ctx.sessions) == 0
    assert stop(_request("cat")) == "Nothing is training."
    assert stop(_request("nobody")) == "Nothing is training."


def test_the_api_names_the_views_parameters(training):
    *_, demo = training
    endpoint = demo.get_api_info()["named_endpoints"]["/toy_train"]
    assert [p["parameter_name"] for p in endpoint["parameters"]] == ["steps"]
    assert endpoint["description"] == "Count to steps (checked first)."
    assert [r["label"] for r in endpoint["returns"]] == ["status", "out"]


@pytest.mark.parametrize(
    "step,status,expected",
    [(600, "done", "trained here (600 steps, seed 3)"), (60, "stopped", "trained here (60 of 600 steps, seed 3)")],
)
def test_a_trained_model_is_named_by_the_training_it_had(step, status, expected):
    assert trained_name(TrainEvent(step=step, losses={}, status=status), 600, 3) == expected


def test_epochs_are_counted_in_updates_per_epoch():
    event = TrainEvent(step=90, losses={}, status="stopped")
    assert trained_name(event, 20, 0, per_unit=45, unit="epochs", what="PCD-1") == "trained here (2 of 20 epochs PCD-1, seed 0)"
    assert trained_name(TrainEvent(step=100, losses={}, status="stopped"), 20, 0, per_unit=45, unit="epochs") == "trained here (2.2 of 20 epochs, seed 0)"
