"""``python -m playground loadtest``: a classroom against a launched app, through ``gradio_client``.

N independent sessions (each its own ``gradio_client.Client``, so its own session hash) start one after
another over a ramp, as a class opening the page would (locust-style), and each makes light calls (a latent
slider move, a new sample grid, a receptive field...) with seeded human think time between them until the
run ends. Meanwhile ``--trainings`` other sessions train (a VAE, a GAN, a VAE...) with enough steps to last;
their streamed status lines ("step 1,234 / 5,000 ...") give their steps per second under load, next to a
short run of the same training alone measured first (``--alone-s``). Every file a call returns is
downloaded (each session into its own folder) and opened: an exception is an error, a missing, 0-byte or
undecodable image or WAV is an empty output. The server's RSS (its process and children, from
/proc/PID/status) is sampled every second when the server is on this machine.

With no ``--url`` it launches ``app.py`` itself (offline, on a free port) and stops it at the end.
Exit status: 0 when no call failed and every output was intact, 1 otherwise, 2 for bad arguments or an
app that could not be started.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import threading
import time
import urllib.parse
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.checks import SEED_MAX, check_float, check_int
from playground.bench.procfs import RssSampler, local_pid

# (api name, weight in the mix, arguments from the session's generator, files the call returns). Seeds come from a
# small set, as a class following the same tour would use, so that sessions often ask for identical outputs. Long jobs
# (Boltzmann samples: 1,000 Gibbs steps; AIS; evaluation) are not light calls and are left out.
LIGHT_MIX: tuple[tuple[str, int, Callable[[np.random.Generator], tuple], int], ...] = (
    ("/vae_decode", 4, lambda r: tuple(r.uniform(-3, 3, 8).round(2).tolist()), 1),
    ("/vae_samples", 2, lambda r: (int(r.integers(0, 4)),), 1),
    ("/gan_samples", 2, lambda r: (int(r.integers(0, 4)),), 1),
    ("/vae_interpolate", 1, lambda r: (int(r.integers(0, 100)), int(r.integers(0, 100)), 10), 1),
    ("/boltzmann_energy", 1, lambda r: (int(r.integers(0, 100)), 3, 0), 1),
    ("/ar_receptive_field", 1, lambda r: (int(r.integers(0, 28)), int(r.integers(0, 28))), 1),
    ("/ar_samples", 1, lambda r: ("nade", 4, int(r.integers(0, 4))), 1),
)
# Training i runs TRAININGS[i % 2] with the Train panel's defaults but the most steps, so that it lasts the run.
TRAININGS = (("/vae_train", "/vae_stop", {"steps": 5000}), ("/gan_train", "/gan_stop", {"steps": 5000}))
STEP_RE = re.compile(r"\bstep ([\d,]+) / [\d,]+")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")
CONNECT = "(connect)"  # creating a Client: the config and API info a page load fetches; not a light call


@dataclass(frozen=True)
class Options:
    """A load test's settings (``check_options`` makes one). ``think_s``: (low, high) seconds of think time
    between a session's calls, uniform; ``pid``: the server process whose RSS to sample (None: unknown)."""

    url: str | None = None
    sessions: int = 30
    trainings: int = 2
    duration_s: float = 60.0
    ramp_s: float = 10.0
    think_s: tuple[float, float] = (0.5, 2.0)
    alone_s: float = 15.0
    seed: int = 0
    pid: int | None = None


def check_options(**values: Any) -> Options:
    """``Options(**values)`` with every value checked.

    Raises:
        ValueError: a value out of range (sessions 1-200, trainings 0-8, duration 1-3600 s, a ramp shorter
            than the duration, think times 0-60 s with low <= high, alone 0-600 s), a URL that is not
            http(s)://..., or a pid without a URL; the message names the option.
    """
    o = Options(**values)
    think = tuple(o.think_s)
    if len(think) != 2:
        raise ValueError(f"--think-s takes two numbers (low and high seconds), got {len(think)}")
    low, high = (check_float("--think-s", t, 0.0, 60.0) for t in think)
    if low > high:
        raise ValueError(f"--think-s: the low end ({low:g} s) must not exceed the high end ({high:g} s)")
    duration = check_float("--duration-s", o.duration_s, 1.0, 3600.0)
    ramp = check_float("--ramp-s", o.ramp_s, 0.0, 3600.0)
    if ramp >= duration:
        raise ValueError(f"--ramp-s ({ramp:g} s) must be shorter than --duration-s ({duration:g} s): every session should run a while")
    if o.url is not None and urllib.parse.urlparse(o.url).scheme not in ("http", "https"):
        raise ValueError(f"--url must start with http:// or https://, got {o.url[:80]!r}")
    if o.pid is not None and o.url is None:
        raise ValueError("--pid names the server of --url; without --url the load test launches the app and knows its pid")
    return Options(
        o.url, check_int("--sessions", o.sessions, 1, 200), check_int("--trainings", o.trainings, 0, 8), duration, ramp, (low, high),
        check_float("--alone-s", o.alone_s, 0.0, 600.0), check_int("--seed", o.seed, 0, SEED_MAX),
        None if o.pid is None else check_int("--pid", o.pid, 1, 2**22),
    )


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100, linear interpolation between ranks, as numpy's default) of ``values``
    in seconds, rounded to ms; None for no values.

    Raises:
        ValueError: ``q`` outside [0, 100].
    """
    check_float("percentile", q, 0.0, 100.0)
    return round(float(np.percentile(values, q)), 3) if len(values) else None


# -- what the server returns -------------------------------------------------------------------------------
def _files(value: Any, root: str) -> list[str]:
    """The paths of downloaded files (under ``root``) anywhere in a call's result."""
    if isinstance(value, str):
        return [value] if value.startswith(root) else []
    if isinstance(value, dict):
        return [p for v in value.values() for p in _files(v, root)]
    if isinstance(value, list | tuple):
        return [p for v in value for p in _files(v, root)]
    return []


def _intact(path: str) -> bool:
    """Whether a downloaded file exists, is not empty and decodes (images fully, WAV headers and frames)."""
    file = Path(path)
    try:
        if not file.is_file() or file.stat().st_size == 0:
            return False
        if file.suffix.lower() in IMAGE_SUFFIXES:
            from PIL import Image

            with Image.open(file) as image:
                image.load()
        elif file.suffix.lower() == ".wav":
            with wave.open(str(file)) as w:
                return len(w.readframes(w.getnframes())) > 0
        return True
    except Exception:  # any decoder error means the bytes are not a whole image or clip
        return False


class _Tally:
    """Per-endpoint call seconds, errors (first messages kept) and empty outputs, shared by the threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seconds: dict[str, list[float]] = {}
        self.errors: dict[str, list[str]] = {}
        self.empty: dict[str, int] = {}
        self.steady: list[float] = []  # light calls that started once every session had connected

    def call(self, name: str, seconds: float | None = None, error: BaseException | None = None, empty: int = 0, steady: bool = False) -> None:
        with self.lock:
            if steady and seconds is not None and error is None:
                self.steady.append(seconds)
            self.seconds.setdefault(name, [])
            self.errors.setdefault(name, [])
            self.empty[name] = self.empty.get(name, 0) + empty
            if error is not None:
                self.errors[name].append(f"{type(error).__name__}: {str(error)[:160]}")
            elif seconds is not None:
                self.seconds[name].append(seconds)

    def check(self, name: str, result: Any, root: str, expected: int = 0) -> None:
        """Count the result's missing (fewer than ``expected``) or damaged files as empty outputs."""
        found = _files(result, root)
        bad = sum(not _intact(p) for p in found) + max(0, expected - len(found))
        if bad:
            self.call(name, empty=bad)


STEADY_AFTER_S = 5.0  # light calls that start this long after the ramp's end count as the steady state


def _client(url: str, folder: Path) -> Any:
    from gradio_client import Client

    folder.mkdir(parents=True, exist_ok=True)
    # httpx's 5 s default would fail a slow page load (the config and API info) that a browser waits for.
    return Client(url, verbose=False, download_files=str(folder), httpx_kwargs={"timeout": 60.0})


# -- the class ---------------------------------------------------------------------------------------------
def _session(url: str, index: int, options: Options, start_at: float, end_at: float, folder: Path, tally: _Tally) -> None:
    """One student: waits for its place in the ramp, connects, then call, think, call... until ``end_at``."""
    rng = np.random.default_rng([options.seed, index])
    names, weights = [m[0] for m in LIGHT_MIX], np.array([m[1] for m in LIGHT_MIX], dtype=float)
    time.sleep(max(0.0, start_at - time.perf_counter()))
    t0 = time.perf_counter()
    try:
        client = _client(url, folder)
    except Exception as err:
        tally.call(CONNECT, error=err)
        return
    tally.call(CONNECT, time.perf_counter() - t0)
    while time.perf_counter() < end_at:
        name, _, make_args, n_files = LIGHT_MIX[rng.choice(len(names), p=weights / weights.sum())]
        args = make_args(rng)
        t0 = time.perf_counter()
        try:
            result = client.predict(*args, api_name=name)
        except Exception as err:  # the client raises for a failed call, a dropped connection or a truncated download
            tally.call(name, error=err)
        else:
            tally.call(name, time.perf_counter() - t0, steady=t0 >= start_at - index * options.ramp_s / options.sessions + options.ramp_s + STEADY_AFTER_S)
            tally.check(name, result, str(folder), n_files)
        time.sleep(rng.uniform(*options.think_s))


class _Training:
    """A session training through ``client.submit``: its streamed step counts with the time each arrived,
    restarted when it finishes before ``stop``; ``stop`` presses Stop and waits for the stream to end."""

    def __init__(self, url: str, index: int, seed: int, folder: Path, tally: _Tally) -> None:
        self.api, self.stop_api, kwargs = TRAININGS[index % len(TRAININGS)]
        self.kwargs, self.folder, self.tally = {**kwargs, "seed": seed}, folder, tally
        self.label = self.api.strip("/") + (f"_{index // len(TRAININGS) + 1}" if index >= len(TRAININGS) else "")
        self.samples: list[tuple[float, int, int]] = []  # (time, run, step)
        self.last_status, self.stop_to_idle_s, self.client = "", None, None
        self.ended, self.halt = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, args=(url,), daemon=True)

    def _run(self, url: str) -> None:
        try:
            self.client = _client(url, self.folder)
            run = 0
            while not self.halt.is_set():
                job = self.client.submit(api_name=self.api, **self.kwargs)
                for output in job:
                    status = output[0] if isinstance(output, list | tuple) and output and isinstance(output[0], str) else ""
                    self.last_status = status or self.last_status
                    match = STEP_RE.search(status)
                    if match:
                        self.samples.append((time.perf_counter(), run, int(match.group(1).replace(",", ""))))
                    self.tally.check(self.api, output, str(self.folder))
                job.result()  # raises what the run raised
                run += 1
        except Exception as err:
            self.tally.call(self.api, error=err)
        finally:
            self.ended.set()

    def stop(self, timeout_s: float = 60.0) -> None:
        self.halt.set()
        t0 = time.perf_counter()
        if not self.ended.is_set() and self.client is not None:
            try:
                self.client.predict(api_name=self.stop_api)
            except Exception as err:
                self.tally.call(self.stop_api, error=err)
        if self.ended.wait(timeout_s):
            self.stop_to_idle_s = round(time.perf_counter() - t0, 2)

    def steps_per_s(self, since: float = 0.0, until: float = float("inf")) -> float | None:
        """Steps per second between the first and last step reports in [since, until] (runs summed); None
        for fewer than two reports (e.g. still queued)."""
        seen = [s for s in self.samples if since <= s[0] <= until]
        if len(seen) < 2 or seen[-1][0] <= seen[0][0]:
            return None
        steps = sum(max(s[2] for s in seen if s[1] == run) - min(s[2] for s in seen if s[1] == run) for run in {s[1] for s in seen})
        return round(steps / (seen[-1][0] - seen[0][0]), 2)


# -- the run -----------------------------------------------------------------------------------------------
def _wait_for_steps(trainings: list[_Training], timeout_s: float = 60.0, steps_s: float = 15.0) -> None:
    """Until every training has answered (or ``timeout_s`` passed), then until each has reported a step (or
    ended, or ``steps_s`` more passed: one waiting in a training queue may not start during the run)."""
    for done, wait_s in ((lambda t: t.last_status or t.samples, timeout_s), (lambda t: t.samples, steps_s)):
        limit = time.perf_counter() + wait_s
        while time.perf_counter() < limit and not all(done(t) or t.ended.is_set() for t in trainings):
            time.sleep(0.1)


def _alone(url: str, options: Options, root: Path, tally: _Tally, log: Callable[[str], None]) -> dict[str, float | None]:
    """Steps per second of each training kind the run uses, alone on the server for ``alone_s`` seconds."""
    rates: dict[str, float | None] = {}
    for i in range(min(options.trainings, len(TRAININGS)) if options.alone_s > 0 else 0):
        training = _Training(url, i, options.seed + i, root / f"alone-{i}", tally)
        training.thread.start()
        _wait_for_steps([training], steps_s=60.0)
        time.sleep(options.alone_s)
        training.stop()
        rates[training.api] = training.steps_per_s()
        log(f"  {training.api} alone: {rates[training.api]} steps/s")
    return rates


def _measure(url: str, options: Options, pid: int | None, log: Callable[[str], None]) -> dict:
    """The load test against ``url``: the alone runs, then trainings and the ramped sessions; the figures."""
    tally = _Tally()
    with tempfile.TemporaryDirectory(prefix="playground-loadtest-") as tmp:
        root = Path(tmp)
        alone = _alone(url, options, root, tally, log)
        rss = RssSampler(pid)
        rss.thread.start()
        trainings = [_Training(url, i, options.seed + i, root / f"training-{i}", tally) for i in range(options.trainings)]
        for training in trainings:
            training.thread.start()
        _wait_for_steps(trainings)
        start = time.perf_counter()
        end = start + options.duration_s
        log(f"  {options.sessions} sessions over a {options.ramp_s:g} s ramp, {options.duration_s:g} s in all, {options.trainings} training")
        sessions = [
            threading.Thread(target=_session, args=(url, i, options, start + i * options.ramp_s / options.sessions, end, root / f"session-{i}", tally), daemon=True)
            for i in range(options.sessions)
        ]
        for thread in sessions:
            thread.start()
        for thread in sessions:
            thread.join(max(1.0, end - time.perf_counter() + 120.0))
        load_end = time.perf_counter()
        for training in reversed(trainings):  # the last ones first: stopping a running one would let a queued one start
            training.stop()
        rss.halt.set()
        return {**_summary(tally, trainings, alone, rss.values, options, (start, load_end), pid), "pss_mb": max(rss.pss_values, default=None)}


def _endpoint(tally: _Tally, name: str) -> dict:
    seconds, errors = tally.seconds.get(name, []), tally.errors.get(name, [])
    return {
        "calls": len(seconds) + len(errors), "errors": len(errors), "empty_outputs": tally.empty.get(name, 0),
        "p50_s": percentile(seconds, 50), "p95_s": percentile(seconds, 95), "max_s": round(max(seconds), 3) if seconds else None,
        **({"error_samples": errors[:3]} if errors else {}),
    }


def _summary(tally: _Tally, trainings: list[_Training], alone: dict, rss: list[float], options: Options, window: tuple[float, float], pid: int | None) -> dict:
    """The run's figures as one JSON-able dict (``--json`` prints it)."""
    names = sorted(set(tally.seconds) | set(tally.errors) | set(tally.empty))
    light_names = {m[0] for m in LIGHT_MIX}
    light = [s for name in light_names for s in tally.seconds.get(name, [])]
    training = {}
    for t in trainings:
        under, by_itself = t.steps_per_s(*window), alone.get(t.api)
        training[t.label] = {
            "api": t.api, "steps_per_s": under, "alone_steps_per_s": by_itself,
            "load_vs_alone": round(under / by_itself, 3) if under and by_itself else None,
            "step_reports": sum(window[0] <= s[0] <= window[1] for s in t.samples), "stop_to_idle_s": t.stop_to_idle_s, "last_status": t.last_status[:160],
            "first_step_after_s": round(t.samples[0][0] - window[0], 1) if t.samples else None,  # negative: before the class came
        }
    return {
        "errors": sum(len(v) for v in tally.errors.values()),
        "empty_outputs": sum(tally.empty.values()),
        "light_calls": sum(len(tally.seconds.get(n, [])) + len(tally.errors.get(n, [])) for n in light_names),
        "light_p50_s": percentile(light, 50),
        "light_p95_s": percentile(light, 95),
        "light_max_s": round(max(light), 3) if light else None,
        # after the ramp and its page loads (each a 2.7 MB config, compressed on the server's event loop)
        "light_steady_calls": len(tally.steady), "light_steady_p50_s": percentile(tally.steady, 50), "light_steady_p95_s": percentile(tally.steady, 95),
        "training_steps_per_s": {label: v["steps_per_s"] for label, v in training.items()},
        "training_alone_steps_per_s": {label: v["alone_steps_per_s"] for label, v in training.items()},
        "rss_mb": max(rss) if rss else None,
        "rss_start_mb": rss[0] if rss else None,
        "rss_end_mb": rss[-1] if rss else None,
        "server_pid": pid,
        "sessions": options.sessions,
        "trainings": options.trainings,
        "duration_s": round(window[1] - window[0], 1),
        "ramp_s": options.ramp_s,
        "think_s": list(options.think_s),
        "seed": options.seed,
        "endpoints": {name: _endpoint(tally, name) for name in names},
        "training": training,
    }


def run_loadtest(options: Options, log: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True)) -> dict:
    """Run the load test (``check_options`` first) against ``options.url``, or against ``app.py`` launched
    here (offline, on a free port, stopped at the end; its start-up seconds and the tracebacks in its log
    are added to the figures). Returns the figures ``_summary`` describes.

    Raises:
        RuntimeError: the app could not be launched (it exited, or served no page within 10 minutes).
    """
    if options.url is not None:
        pid = options.pid or local_pid(options.url)
        log(f"load test against {options.url}{f' (server pid {pid})' if pid else ' (server RSS unknown: not on this machine)'}")
        return _measure(options.url, options, pid, log)
    from playground.bench.app import served_app

    with tempfile.TemporaryDirectory(prefix="playground-loadtest-app-") as tmp:
        log_path = Path(tmp) / "app.log"
        log("launching app.py on a free port (offline); building the app takes 30-90 s")
        with served_app(env={"HF_HUB_OFFLINE": "1"}, log_path=log_path) as (url, startup_s):
            log(f"  {url} served after {startup_s:.1f} s")
            result = _measure(url, options, local_pid(url), log)
        text = log_path.read_text(errors="replace")
    return {**result, "app_startup_s": round(startup_s, 1), "server_log_tracebacks": text.count("Traceback")}


def format_table(result: dict) -> str:
    """The figures as a readable table: one row per endpoint, the light calls together, the trainings, RSS."""
    def cell(value: Any) -> str:
        return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = [f"{'endpoint':24s} {'calls':>6s} {'errors':>6s} {'empty':>6s} {'p50 s':>7s} {'p95 s':>7s} {'max s':>7s}"]
    for name, e in result["endpoints"].items():
        lines.append(f"{name:24s} {e['calls']:6d} {e['errors']:6d} {e['empty_outputs']:6d} {cell(e['p50_s']):>7s} {cell(e['p95_s']):>7s} {cell(e['max_s']):>7s}")
    lines.append(f"{'light calls, all':24s} {result['light_calls']:6d} {'':6s} {'':6s} {cell(result['light_p50_s']):>7s} {cell(result['light_p95_s']):>7s} {cell(result['light_max_s']):>7s}")
    for label, t in result["training"].items():
        lines.append(
            f"training {label}: {cell(t['steps_per_s'])} steps/s under load, {cell(t['alone_steps_per_s'])} alone (ratio {cell(t['load_vs_alone'])}), "
            f"Stop to idle {cell(t['stop_to_idle_s'])} s"
        )
    rss = (result["rss_mb"], result["rss_start_mb"], result["rss_end_mb"])
    pss = f"; PSS peak {result['pss_mb']:.0f} MB, shared pages split" if result.get("pss_mb") else ""
    lines.append(f"server RSS: peak {rss[0]:.0f} MB (start {rss[1]:.0f}, end {rss[2]:.0f}; its process and children{pss})" if rss[0] else "server RSS: unknown (not on this machine; give --pid)")
    lines.append(f"{result['sessions']} sessions, {result['trainings']} training, {result['duration_s']} s: {result['errors']} errors, {result['empty_outputs']} empty or undecodable outputs")
    return "\n".join(lines)


def run_cli(args: argparse.Namespace, log: Callable[[str], None]) -> int:
    """``python -m playground loadtest``: prints the table (or ``--json``, one object); returns the exit status
    (0 clean, 1 when a call failed or an output was empty or undecodable, 2 when the app could not be launched).

    Raises:
        ValueError: a bad option (``check_options``).
    """
    options = check_options(
        url=args.url, sessions=args.sessions, trainings=args.trainings, duration_s=args.duration_s, ramp_s=args.ramp_s,
        think_s=tuple(args.think_s), alone_s=args.alone_s, seed=args.seed, pid=args.pid,
    )
    try:
        result = run_loadtest(options, log)
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result) if args.json else format_table(result))
    return 1 if result["errors"] or result["empty_outputs"] else 0


def bench(url: str, quick: bool, log: Callable[[str], None]) -> dict:
    """The bench's short run against the app it launched (6 sessions, 1 training, 20 s; quick: 3 sessions,
    8 s, no alone run): the headline figures."""
    options = check_options(url=url, sessions=3 if quick else 6, trainings=1, duration_s=8 if quick else 20, ramp_s=2 if quick else 4, alone_s=0 if quick else 8)
    result = run_loadtest(options, log)
    keys = ("sessions", "trainings", "duration_s", "light_calls", "errors", "empty_outputs", "light_p50_s", "light_p95_s", "light_max_s", "training_steps_per_s", "training_alone_steps_per_s", "rss_mb", "pss_mb")
    return {key: result[key] for key in keys}
