"""python -m playground loadtest: a tiny class against the launched app, and its parts (percentiles, checks,
file checks, the training rate, /proc readings)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from playground.bench import loadtest
from playground.bench.loadtest import _files, _intact, _Tally, _Training, check_options, format_table, percentile
from playground.bench.procfs import listening_pid, rss_mb
from playground.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_tiny_class_against_the_app_has_every_figure_and_no_error(app_url):
    proc = subprocess.run(
        [sys.executable, "-m", "playground", "loadtest", "--url", app_url, "--sessions", "3", "--trainings", "1", "--duration-s", "8",
         "--ramp-s", "1.5", "--think-s", "0.2", "0.6", "--alone-s", "3", "--seed", "3", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=150,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    result = json.loads(proc.stdout)
    for key in ("errors", "empty_outputs", "light_p50_s", "light_p95_s", "light_max_s", "training_steps_per_s", "rss_mb", "endpoints", "training", "sessions", "duration_s"):
        assert key in result, key
    assert result["errors"] == 0 and result["empty_outputs"] == 0, result["endpoints"]
    assert result["sessions"] == 3 and result["endpoints"]["(connect)"]["calls"] == 3
    assert result["light_calls"] >= 1 and sum(e["calls"] for name, e in result["endpoints"].items() if name != "(connect)") == result["light_calls"]
    assert 0 < result["light_p50_s"] <= result["light_p95_s"] <= result["light_max_s"] < 60
    training = result["training"]["vae_train"]
    assert training["alone_steps_per_s"] > 0 and (training["steps_per_s"] is None or training["steps_per_s"] > 0)  # None: too few reports on a busy machine
    assert training["last_status"].startswith("**stopped**") and training["stop_to_idle_s"] is not None
    assert result["rss_mb"] > 100 and 0 < result["pss_mb"] and result["server_pid"] > 0  # the fixture's app runs on this machine


@pytest.mark.parametrize(
    "values, message",
    [
        ({"sessions": 0}, "--sessions must be in [1, 200]"),
        ({"trainings": -1}, "--trainings must be in [0, 8]"),
        ({"duration_s": float("nan")}, "--duration-s must be a number"),
        ({"duration_s": 10, "ramp_s": 10}, "--ramp-s (10 s) must be shorter than --duration-s (10 s)"),
        ({"think_s": (2.0, 1.0)}, "the low end (2 s) must not exceed the high end (1 s)"),
        ({"think_s": (1.0,)}, "--think-s takes two numbers"),
        ({"url": "ftp://example.org"}, "--url must start with http:// or https://"),
        ({"pid": 123}, "--pid names the server of --url"),
        ({"seed": -1}, "--seed must be in"),
    ],
)
def test_options_are_checked_with_a_sentence(values, message):
    with pytest.raises(ValueError) as err:
        check_options(**values)
    assert message in str(err.value)


def test_the_cli_refuses_bad_options_with_status_2(capsys):
    assert main(["loadtest", "--sessions", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --sessions must be in [1, 200], got 0"
    with pytest.raises(SystemExit):
        main(["loadtest", "--think-s", "1"])  # argparse: two numbers


def test_percentile_interpolates_between_ranks_and_is_none_when_empty():
    assert percentile([], 95) is None
    assert percentile([3.0], 50) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert percentile([0.1234567, 9.0], 0) == 0.123  # rounded to ms
    with pytest.raises(ValueError, match="percentile must be a number in"):
        percentile([1.0], 101)


def test_file_checks_count_empty_truncated_and_missing_outputs(tmp_path):
    good, empty, cut = tmp_path / "good.png", tmp_path / "empty.png", tmp_path / "cut.png"
    Image.fromarray(np.full((28, 28), 200, dtype=np.uint8)).save(good)
    empty.write_bytes(b"")
    cut.write_bytes(good.read_bytes()[:40])
    assert _intact(str(good)) and not _intact(str(empty)) and not _intact(str(cut)) and not _intact(str(tmp_path / "gone.png"))
    result = (str(good), {"__type__": "update"}, [{"image": str(cut), "caption": "#0"}], "/elsewhere/x.png", "a caption")
    assert _files(result, str(tmp_path)) == [str(good), str(cut)]
    tally = _Tally()
    tally.check("/x", result, str(tmp_path), expected=3)  # one damaged, one missing
    tally.check("/y", str(good), str(tmp_path), expected=1)
    assert tally.empty == {"/x": 2}


def test_training_rate_is_steps_between_the_first_and_last_report_in_the_window(tmp_path):
    training = _Training("http://127.0.0.1:1/", 1, 0, tmp_path, _Tally())  # not started: its thread never runs
    assert training.label == "gan_train" and training.steps_per_s() is None
    training.samples = [(10.0, 0, 100), (12.0, 0, 140), (14.0, 1, 10), (15.0, 1, 30), (40.0, 1, 500)]
    assert training.steps_per_s() == round((40 + 490) / 30, 2)
    assert training.steps_per_s(0.0, 20.0) == round((40 + 20) / 5, 2)  # a restarted run's steps add up
    assert _Training("http://127.0.0.1:1/", 2, 0, tmp_path, _Tally()).label == "vae_train_2"


def test_rss_and_the_pid_behind_a_port_come_from_proc():
    assert rss_mb(os.getpid()) > 10 and 0 < rss_mb(os.getpid(), "Pss") <= rss_mb(os.getpid()) + 1
    assert rss_mb(2**22 + 1) is None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert listening_pid(s.getsockname()[1]) == os.getpid()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    assert listening_pid(free) is None


def test_the_table_names_every_endpoint_and_the_totals():
    tally = _Tally()
    tally.call("/vae_decode", 0.2)
    tally.call("/vae_decode", error=RuntimeError("peer closed connection"))
    tally.call("/gan_samples", 0.4, empty=1)
    result = loadtest._summary(tally, [], {}, [], check_options(sessions=2), (0.0, 5.0), None)
    assert result["errors"] == 1 and result["empty_outputs"] == 1 and result["light_calls"] == 3
    assert result["endpoints"]["/vae_decode"]["error_samples"] == ["RuntimeError: peer closed connection"]
    text = format_table(result)
    assert "/vae_decode" in text and "/gan_samples" in text and "1 errors, 1 empty or undecodable outputs" in text
    assert "server RSS: unknown" in text
