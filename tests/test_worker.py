"""Training in a worker process (core/worker.py) and the server's training queue (core/jobs.py)."""

from __future__ import annotations

import os
import threading
import time
from types import SimpleNamespace

import gradio as gr
import pytest
import torch

from playground.core import worker
from playground.core.jobs import TrainingQueue, max_trainings
from playground.ui.panels import bind_training
from playground.views.base import Context, FamilyViews, Session


class _Session:
    def __init__(self):
        self.views = {"a": "bundled a", "b": "bundled b"}
        self.frames = []
        self.note = None


def _run(session, steps, *, stop):
    """Yields (pid, niceness, threads) at each step; replaces slot "a", appends a frame, sets a note."""
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    for _ in range(steps):
        if stop.is_set():
            yield "stopped"
            return
        yield os.getpid(), os.nice(0), torch.get_num_threads()
        time.sleep(0.01)
    session.views["a"] = "trained a"
    session.frames.append(torch.ones(2))
    session.note = "done"


def test_a_run_streams_from_another_process_at_lower_priority_with_one_thread():
    session = _Session()
    session.views["b"] = "loaded meanwhile"  # what the app changed before the run
    items = list(worker.stream(_run, session, 3, stop=threading.Event()))
    assert len(items) == 3
    pid, nice, threads = items[0]
    assert pid != os.getpid() and nice >= os.nice(0) + worker.NICE - 1 and threads == 1
    # what the run changed came back; what it did not change is the app's own
    assert session.views == {"a": "trained a", "b": "loaded meanwhile"} and session.note == "done"
    assert len(session.frames) == 1 and torch.equal(session.frames[0], torch.ones(2))


def test_stop_reaches_the_worker_and_errors_keep_their_sentence():
    flag = threading.Event()
    stream = worker.stream(_run, _Session(), 100_000, stop=flag)
    next(stream)
    flag.set()
    start = time.perf_counter()
    assert list(stream)[-1] == "stopped" and time.perf_counter() - start < 1.0
    with pytest.raises(ValueError, match="steps must be >= 0, got -1"):
        list(worker.stream(_run, _Session(), -1, stop=threading.Event()))


def _dies(session, *, stop):
    yield 1
    os._exit(3)


def test_a_worker_that_dies_ends_the_stream_with_a_sentence():
    stream = worker.stream(_dies, _Session(), stop=threading.Event())
    assert next(stream) == 1
    with pytest.raises(worker.WorkerError, match="exit code 3"):
        next(stream)


def test_the_worker_is_off_for_cuda_and_when_asked(monkeypatch):
    monkeypatch.delenv(worker.ENV, raising=False)
    assert worker.enabled("cpu") and not worker.enabled("cuda:0")
    monkeypatch.setenv(worker.ENV, "0")
    assert not worker.enabled("cpu")


# -- the queue ------------------------------------------------------------------------------------------------
def test_one_trains_the_next_waits_with_its_place_and_stop_leaves_the_line():
    queue = TrainingQueue(max_running=1, max_waiting=2)
    first = queue.join("ann", "vae")
    assert list(first.wait(threading.Event())) == [] and first.running
    with pytest.raises(ValueError, match=r"already training \(vae\)"):
        queue.join("ann", "gan")
    second, third = queue.join("bob", "gan"), queue.join("cat", "vae")
    with pytest.raises(ValueError, match="2 visitors are already waiting"):
        queue.join("dan", "vae")
    flag = threading.Event()
    lines = second.wait(flag)
    assert "1st in line" in next(lines) and "trains 1 model at a time" in next(iter(third.wait(flag)))
    threading.Timer(0.2, first.done).start()
    assert list(lines) == [] and second.running  # the slot freed: bob trains
    stop_cat = threading.Event()
    stop_cat.set()
    assert list(third.wait(stop_cat)) == [] and not third.running and queue.counts() == (1, 0)
    second.done()
    assert queue.counts() == (0, 0)


def test_max_trainings_reads_its_variable(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MAX_TRAININGS", "3")
    assert max_trainings() == 3
    for bad in ("0", "two", "65"):
        monkeypatch.setenv("PLAYGROUND_MAX_TRAININGS", bad)
        with pytest.raises(ValueError, match="PLAYGROUND_MAX_TRAININGS must be"):
            max_trainings()


# -- the Train button: queue, then worker -------------------------------------------------------------------
class _Views(FamilyViews):
    def session(self, state):
        return state if isinstance(state, Session) else Session({"m": "bundled"})


def _train_run(session, steps, *, stop):
    """Train for steps."""
    yield ("Starting…", None)
    for i in range(int(steps)):
        if stop.is_set():
            break
        time.sleep(0.02)
        yield (f"step {i}", os.getpid())
    session.views["m"] = f"trained {steps}"


def test_the_train_button_queues_then_trains_in_a_worker_and_the_model_comes_back(data, monkeypatch):
    monkeypatch.delenv(worker.ENV, raising=False)
    monkeypatch.setenv("PLAYGROUND_MAX_TRAININGS", "1")
    ctx = Context("cpu", data)
    with gr.Blocks():
        state, steps, status, out = gr.State(), gr.Number(label="steps"), gr.Markdown(label="status"), gr.Number(label="out")
        train, stop = gr.Button(), gr.Button()
        train = bind_training(ctx, _Views(ctx), "toy", train, stop, status, state, _train_run, [steps], [out], "toy_train", "toy_stop").fn
    ann = train(None, 30, SimpleNamespace(session_hash="ann"))
    session, first, _ = next(ann)
    assert first == "Starting…"
    bob = train(None, 2, SimpleNamespace(session_hash="bob"))
    bob_session, waiting, _ = next(bob)
    assert "1st in line" in waiting  # ann trains, bob waits and is told so
    ann_out = list(ann)
    assert {o[2] for o in ann_out if isinstance(o[2], int)} - {os.getpid()}  # the steps ran in another process
    assert session.views["m"] == "trained 30"  # the model trained in the worker is the session's
    list(bob)
    assert bob_session.views["m"] == "trained 2" and ctx.trainings.counts() == (0, 0) and len(ctx.sessions) == 0
