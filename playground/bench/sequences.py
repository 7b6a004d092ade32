"""Figures of the Sequences tab's new systems: Parallel WaveNet against the fast WaveNet on the
same clip, the pitch-conditioned WaveNet's speed and tracking error, character sampling speed,
and the video model's seconds per predicted frame."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from playground.bench.common import context, sync
from playground.core import checkpoints


def _timed(fn: Callable[[], object], device: torch.device) -> float:
    fn()  # warm-up
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def bench(quick: bool, log: Callable[[str], None]) -> dict:
    """- ``parallel_wavenet``: seconds, samples/s and real-time factor of the bundled student (one pass) and of the teacher's
      fast generator on the same 1 s clip (0.25 s quick), the speed-up, at the process's thread count and with one thread;
    - ``pitch``: the pitch-conditioned WaveNet's samples/s and median tracking error (cents) on 8 test contours;
    - ``char``: characters/s of each character model (200 characters, one text);
    - ``vpn``: seconds per predicted frame (one clip)."""
    from playground.views.moving_digits import MDViews
    from playground.views.wavenet_pitch import PitchViews

    ctx = context()
    device = ctx.device
    figures: dict = {}
    student = checkpoints.load("parallel-wavenet", device=device).eval()
    teacher = checkpoints.load("wavenet", device=device).eval()
    seconds = 0.25 if quick else 1.0
    n, y = int(seconds * 8000), torch.tensor([5], device=device)
    for threads in sorted({torch.get_num_threads(), 1}, reverse=True):
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            t_student = _timed(lambda: student.sample(1, y, torch.Generator().manual_seed(0), n_samples=n), device)
            t_teacher = _timed(lambda: teacher.sample(1, y, torch.Generator().manual_seed(0), n_samples=n), device)
        finally:
            torch.set_num_threads(before)
        figures[f"parallel_wavenet_{threads}_threads"] = {
            "clip_s": seconds, "student_s": round(t_student, 4), "teacher_fast_s": round(t_teacher, 3), "student_samples_per_s": round(n / t_student),
            "teacher_samples_per_s": round(n / t_teacher), "student_real_time_factor": round(t_student / seconds, 4), "speed_up": round(t_teacher / t_student, 1),
        }
        log(f"  Parallel WaveNet, {threads} thread(s): {n / t_student:,.0f} samples/s against the fast WaveNet's {n / t_teacher:,.0f}: {t_teacher / t_student:.1f}x")
    pitch = PitchViews(ctx)
    session = pitch.session(None)
    start = time.perf_counter()
    err = pitch.test_error(session, 4 if quick else 8)
    figures["pitch"] = {"median_cents": round(err["median_cents"], 1), "within_50": round(err["within_50"], 3), "seconds": round(time.perf_counter() - start, 1)}
    log(f"  pitch-conditioned WaveNet: median tracking error {err['median_cents']:.0f} cents")
    for name in ("char-rnn", "char-transformer"):
        model = checkpoints.load(name, device=device).eval()
        t = _timed(lambda m=model: list(m.generate(1, 200, "ROMEO:", 1.0, torch.Generator().manual_seed(0), chunk=200)), device)
        figures[f"{name}_chars_per_s"] = round(200 / t)
        log(f"  {name}: {200 / t:,.0f} characters/s")
    video = MDViews(ctx)
    start = time.perf_counter()
    list(video.predict(video.session(None), 0, 3, 1, 0))
    figures["vpn_seconds_per_frame"] = round(time.perf_counter() - start, 2)
    log(f"  video model: {figures['vpn_seconds_per_frame']:.1f} s per predicted frame")
    return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in figures.items()}
