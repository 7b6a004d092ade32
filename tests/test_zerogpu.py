"""ZeroGPU and the training cap: with ``SPACES_ZERO_GPU`` set, the heavy handlers go through
``spaces.GPU`` (here a fake ``spaces`` package on ``sys.path`` that records each call and,
like ZeroGPU's forked worker, pickles the arguments in and every result out) with durations
computed from their arguments; without it nothing imports ``spaces``. A run that reaches
``PLAYGROUND_MAX_TRAIN_S`` ends with its samples and a message naming the cap."""

from __future__ import annotations

import copyreg
import inspect
import os
import pickle
import subprocess
import sys
import textwrap
import threading

import gradio as gr
import pytest
import torch
from conftest import ROOT, TINY
from panels import build_tab

from playground.core.training import MAX_TRAIN_ENV, TrainConfig, max_train_seconds, train
from playground.ui import zerogpu
from playground.ui.tabs import autoregressive as ar_tab
from playground.views.autoregressive import STEPS

FAKE_SPACES = '''
"""A stand-in for Hugging Face's ``spaces``: GPU(duration=...) records each call (the name
and the seconds asked for) and, like ZeroGPU's worker process, pickles the arguments in and
every result out. Its wrappers keep no metadata: what Gradio reads, ``gpu`` must keep itself."""
import functools, inspect, pickle

calls = []


def _through(value):
    return pickle.loads(pickle.dumps(value))


def GPU(task=None, *, duration=None):
    if task is None:
        return functools.partial(GPU, duration=duration)

    def start(args, kwargs):
        calls.append((task.__name__, duration(*args, **kwargs) if callable(duration) else duration))
        return _through((args, kwargs))

    if inspect.isgeneratorfunction(task):
        def stream(*args, **kwargs):
            args, kwargs = start(args, kwargs)
            for value in task(*args, **kwargs):
                yield _through(value)
        return stream

    def call(*args, **kwargs):
        args, kwargs = start(args, kwargs)
        return _through(task(*args, **kwargs))
    return call
'''


@pytest.fixture
def pickling():
    """Put back after the test the pickling rules ``zerogpu`` adds on ZeroGPU (they are process-wide)."""
    saved = dict(copyreg.dispatch_table)
    yield
    copyreg.dispatch_table.clear()
    copyreg.dispatch_table.update(saved)


@pytest.fixture
def fake_spaces(tmp_path, monkeypatch, pickling):
    """The fake ``spaces`` importable, ``SPACES_ZERO_GPU=1``, no training cap; yields the module's call list."""
    (tmp_path / "spaces").mkdir()
    (tmp_path / "spaces" / "__init__.py").write_text(FAKE_SPACES)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(zerogpu.ENV, "1")
    monkeypatch.delenv(MAX_TRAIN_ENV, raising=False)
    monkeypatch.delitem(sys.modules, "spaces", raising=False)
    import spaces

    yield spaces.calls
    sys.modules.pop("spaces", None)


def _handler(demo: gr.Blocks, api_name: str):
    return next(f.fn for f in demo.fns.values() if f.api_name == api_name)


def _arguments(demo: gr.Blocks, api_name: str, **values) -> list:
    """The handler's positional arguments: each input's current value, ``values`` by parameter name, None for the request."""
    block = next(f for f in demo.fns.values() if f.api_name == api_name)
    names = list(inspect.signature(block.fn).parameters)
    args = [None if isinstance(c, gr.State) else c.value for c in block.inputs]
    args += [None] * (len(names) - len(args))
    return [values.get(name, arg) for name, arg in zip(names, args, strict=True)]


def test_on_zerogpu_training_and_sampling_go_through_spaces_gpu_and_the_trained_model_comes_back(data, fake_spaces, one_thread):
    demo, tab = build_tab(ar_tab.ArTab, data)
    train = _handler(demo, "ar_train")
    # What Gradio reads survives the wrap: the API page's docstring and parameters, the request it passes, streaming.
    assert inspect.isgeneratorfunction(train)
    assert list(inspect.signature(train).parameters) == ["state_value", "family", "size", "layers", "masks", "conditional", "steps", "lr", "seed", "request"]
    assert inspect.signature(train).parameters["request"].annotation is gr.Request
    assert train.__doc__ == tab.views.train.__doc__
    updates = list(train(*_arguments(demo, "ar_train", family="nade", size=8, steps=STEPS.low)))
    assert fake_spaces == [("session_run", zerogpu.OVERHEAD_S + 3)]  # 50 steps at 0.05 s: 2.5 s, rounded up
    session = updates[-1][0]  # yielded again at the end: the worker's session, with the model trained there
    assert session.views["nade"].name.startswith("trained here (50 steps")
    assert all(isinstance(v, dict) and v.get("__type__") == "update" for v in updates[-1][1:])  # gr.skip(): nothing else redrawn
    assert session.views["nade"].ctx is tab.views.ctx  # shared: by reference through the pickles, not a copy
    assert session.views["made"] is tab.views.session(None).views["made"]  # still the bundled one, so the bar says so
    assert "made (bundled)" in tab.views.headline(session)

    samples = _handler(demo, "ar_samples")
    grid, *_, note = samples(*_arguments(demo, "ar_samples", state=session, family="nade", n=4, seed=0))
    assert fake_spaces[-1] == ("samples", zerogpu.OVERHEAD_S + 2)  # 4 images at 0.5 s
    assert grid is not None and note == ""  # the panel's note: no error


def test_without_the_env_the_demo_never_imports_spaces():
    env = {k: v for k, v in os.environ.items() if k not in (zerogpu.ENV, MAX_TRAIN_ENV)}
    script = textwrap.dedent("""
        import sys, torch
        torch.set_num_threads(1)
        from playground.ui.app import build_demo
        build_demo()
        print("spaces" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_gpu_leaves_a_handler_alone_without_the_env(monkeypatch):
    def handler(x: int, request: gr.Request = None) -> int:
        return x

    for value in ("", "0", "false", "no"):
        monkeypatch.setenv(zerogpu.ENV, value)
        assert not zerogpu.enabled() and zerogpu.gpu(handler) is handler and zerogpu.training(handler) is handler
    monkeypatch.setenv(zerogpu.ENV, "True")
    assert zerogpu.enabled()


def test_durations_follow_the_arguments_and_the_cap(monkeypatch):
    def run(state_value, family="nade", steps=600, epochs=0, request=None):
        yield state_value

    monkeypatch.delenv(MAX_TRAIN_ENV, raising=False)
    seconds = zerogpu.duration(run, zerogpu.OVERHEAD_S, zerogpu.TRAINING_UNITS, cap=True)
    assert seconds(None, "nade", 1000) == 70  # 20 + 1000 x 0.05
    assert seconds(None, steps=1000, epochs=10) == 80
    assert seconds(None) == 50  # the default 600 steps
    assert seconds(None, "nade", 10**7) == zerogpu.MAX_S
    assert seconds(None, "nade", "lots") == seconds(None, "nade", float("nan")) == seconds(None, "nade", -5) == 20  # the handler reports them
    assert seconds(None, 1, 2, 3, 4, 5, 6) == 20  # arguments that do not fit the signature: the base alone
    monkeypatch.setenv(MAX_TRAIN_ENV, "30")
    assert seconds(None, "nade", 1000) == 50  # the cap bounds the training part
    assert zerogpu.duration(run, 2, None, cap=False)() == zerogpu.MIN_S


@pytest.mark.parametrize("bad", ["abc", "0", "-3", "nan", "inf"])
def test_a_bad_cap_is_a_clear_error_when_the_app_is_built(monkeypatch, bad):
    monkeypatch.setenv(MAX_TRAIN_ENV, bad)
    with pytest.raises(ValueError, match=f"{MAX_TRAIN_ENV} must be a number of seconds > 0"):
        max_train_seconds()
    with pytest.raises(ValueError, match=MAX_TRAIN_ENV):
        zerogpu.training(lambda: None)  # as bind_training does while the app is built
    with pytest.raises(ValueError, match=MAX_TRAIN_ENV):
        TrainConfig()


def test_a_run_that_reaches_the_cap_ends_with_its_samples_and_a_message_naming_it(data, monkeypatch, one_thread):
    monkeypatch.setenv(MAX_TRAIN_ENV, "0.3")
    config = TrainConfig(steps=100_000, batch_size=16, log_every=1000, sample_every=0, eval_every=0, n_samples=4, n_eval=20)
    assert config.max_seconds == 0.3
    cls, kwargs = TINY["nade"]
    model = cls(**kwargs)
    events = list(train(model, data, config))
    final = events[-1]
    assert final.status == "capped" and 0 < final.step < config.steps
    assert f"this server caps a training run at 0.3 s ({MAX_TRAIN_ENV})" in final.message
    assert final.samples.shape == (4, 1, 28, 28) and final.test_losses is not None and final.losses
    assert 0.3 <= final.elapsed_s < 10
    monkeypatch.delenv(MAX_TRAIN_ENV)
    assert TrainConfig().max_seconds is None  # locally: no cap
    with pytest.raises(ValueError, match="max_seconds"):
        TrainConfig(max_seconds=0)


class Holder:
    """Something with a lock, as the app's ``Context`` holds."""

    def __init__(self, name: str):
        self.name, self.lock = name, threading.Lock()


def test_shared_objects_cross_the_worker_boundary_by_reference_and_locks_as_new_ones(monkeypatch, pickling):
    shared, other = Holder("app"), Holder("made later")
    with pytest.raises(TypeError, match="lock"):
        pickle.dumps(other)
    zerogpu.share(shared)  # without SPACES_ZERO_GPU: nothing changes
    with pytest.raises(TypeError, match="lock"):
        pickle.dumps(shared)
    monkeypatch.setenv(zerogpu.ENV, "1")
    zerogpu.share(shared)
    assert pickle.loads(pickle.dumps([shared]))[0] is shared  # looked up, not copied
    with other.lock:
        copy = pickle.loads(pickle.dumps(other))  # only the object is shared, not its type: the others are copied
    assert copy is not other and copy.name == "made later" and not copy.lock.locked()
    tensor = torch.ones(2)
    assert torch.equal(pickle.loads(pickle.dumps(tensor)), tensor)
