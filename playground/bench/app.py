"""The app's figures: seconds from ``python app.py`` to a served page, and slider round
trips through ``gradio_client``."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served_app(timeout_s: float = 600.0, env: dict | None = None, log_path: Path | None = None) -> Iterator[tuple[str, float]]:
    """Run ``python app.py`` in a subprocess on a free port until the block ends.

    Yields:
        ``(url, seconds)``: the page's URL and the seconds from starting the process to
        the page answering HTTP 200.

    Raises:
        RuntimeError: the process exits or serves no page within ``timeout_s``.
    """
    port = free_port()
    full_env = {
        **os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_ANALYTICS_ENABLED": "False", **(env or {}),
    }
    out = open(log_path, "w") if log_path else subprocess.DEVNULL
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with status {proc.returncode} before serving a page")
            if time.perf_counter() - start > timeout_s:
                raise RuntimeError(f"app.py served no page within {timeout_s:.0f} s")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        yield url, time.perf_counter() - start
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log_path:
            out.close()


def bench(n_calls: int, log: Callable[[str], None], then: Callable[[str], dict] | None = None) -> tuple[dict, dict, dict | None]:
    """Start ``python app.py``; time it to a served page, then time slider round trips; then ``then(url)``
    (e.g. the load test's short run) while it still runs, whose figures come third (None without ``then``)."""
    from gradio_client import Client

    with served_app() as (url, startup):
        log(f"  page served after {startup:.1f} s")
        client = Client(url, verbose=False)
        rng = np.random.default_rng(1)
        times = []
        for i in range(n_calls + 3):
            values = rng.uniform(-3, 3, 8).round(2).tolist()
            t0 = time.perf_counter()
            client.predict(*values, api_name="/vae_decode")
            if i >= 3:
                times.append((time.perf_counter() - t0) * 1000)
        more = then(url) if then is not None else None
    roundtrip = {
        "slider_roundtrip_p50_ms": round(float(np.percentile(times, 50)), 1),
        "slider_roundtrip_p95_ms": round(float(np.percentile(times, 95)), 1),
    }
    return {"seconds_to_served_page": round(startup, 2)}, roundtrip, more


