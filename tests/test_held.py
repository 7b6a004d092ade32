"""What sessions keep in memory (views/held.py): idle or over-budget sessions' own models are put away, and they are told."""

from __future__ import annotations

import time

import torch

from playground.views import held as held_module
from playground.views.base import Context, FamilyViews
from playground.views.held import HeldModels, model_bytes, server_limits


class _View:
    def __init__(self, name: str, numbers: int):
        self.name, self.model = name, torch.nn.Linear(numbers, 1, bias=False)


class _Views(FamilyViews):
    bundled = {"m": "m"}

    def slot(self, model):
        return "m"

    def bundled_view(self, name):
        return self._bundled.setdefault(name, _View("bundled m", 10))


def _ctx(data, told, **held):
    return Context("cpu", data, held=HeldModels(**held), notify=told.append)


def test_an_idle_sessions_own_model_is_put_away_and_it_is_told_once(data, monkeypatch):
    told = []
    ctx = _ctx(data, told, idle_s=60, budget_mb=1024)
    views = _Views(ctx)
    mine, busy = views.session(None), views.session(None)
    mine.views["m"], busy.views["m"] = _View("trained here", 1000), _View("loaded", 1000)
    assert model_bytes(mine.views["m"].model) == 4000 and abs(ctx.held.held_mb() - 8000 / 2**20) < 1e-9
    clock = [time.monotonic()]
    monkeypatch.setattr(held_module.time, "monotonic", lambda: clock[0])
    views.session(mine), views.session(busy)
    clock[0] += 61
    views.session(busy)  # busy is used again: only mine has been idle for 61 s
    assert mine.views["m"] is views.bundled_view("m") and busy.views["m"].name == "loaded" and told == []
    assert views.session(mine) is mine and len(told) == 1 and "(trained here) was put away after 1 min without use" in told[0]
    views.session(mine)
    assert len(told) == 1  # once


def test_over_the_budget_the_least_recently_used_go_first(data, monkeypatch):
    told = []
    ctx = _ctx(data, told, idle_s=3600, budget_mb=16)
    views = _Views(ctx)
    clock = [time.monotonic()]
    monkeypatch.setattr(held_module.time, "monotonic", lambda: clock[0])
    sessions = [views.session(None) for _ in range(3)]
    for i, session in enumerate(sessions):  # 3 x 6 MB > 16 MB; session 0 is the least recently used
        session.views["m"] = _View(f"own {i}", 6 * 2**20 // 4)
        clock[0] += 1
        views.session(session)
    clock[0] += held_module.SWEEP_EVERY_S
    ctx.held.sweep()
    assert [s.views["m"].name for s in sessions] == ["bundled m", "own 1", "own 2"]
    views.session(sessions[0])
    assert "memory for visitors' models (16 MB) was full" in told[0]


def test_the_about_box_states_the_limits(data, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MAX_TRAININGS", "1")
    text = server_limits(Context("cpu", data))
    assert "trains 1 model at a time" in text and "told their place" in text and "put away after 30 min unused" in text
