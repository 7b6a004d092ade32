"""Issue 21's regression test: 50 concurrent sessions x 5 identical calls, every output intact.

Sessions that produce the same image at once used to get empty or truncated downloads (Gradio rewrote the shared
content-hash file while others downloaded it; fixed by playground/ui/outputs.py). Each session is its own
gradio_client.Client; all start together, and every image they get back must be the reference image, byte for byte.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")

N_SESSIONS, N_CALLS = 50, 5
# Each session alternates these two calls, identical across sessions: 150 x 8 x 8 grids and 100 slider decodes.
CALLS = [((0,), "/vae_samples"), ((1.5, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0), "/vae_decode")]
TIMEOUT_S = 120.0  # per HTTP request: a slow download on a busy 2-core machine is not a corrupt one


def _client(app_url: str, folder: Path):
    return gradio_client.Client(app_url, verbose=False, download_files=str(folder), httpx_kwargs={"timeout": TIMEOUT_S})


def _check(path: str, expected: bytes, pixels: np.ndarray) -> str:
    """"ok", or what is wrong with the downloaded file at ``path``."""
    data = Path(path).read_bytes()
    if not data:
        return f"empty file {path}"
    try:
        got = np.asarray(Image.open(path))
    except Exception as err:  # noqa: BLE001 - any decoder error is a corrupt output
        return f"undecodable ({len(data)} bytes, {type(err).__name__})"
    if data != expected or not np.array_equal(got, pixels):
        return f"different image ({len(data)} bytes, expected {len(expected)})"
    return "ok"


def test_identical_concurrent_calls_all_get_the_whole_image(app_url, tmp_path):
    with ThreadPoolExecutor(16) as pool:
        clients = list(pool.map(lambda k: _client(app_url, tmp_path / f"session-{k}"), range(N_SESSIONS)))
    references = []
    for args, api in CALLS:
        path = clients[0].predict(*args, api_name=api)
        pixels = np.asarray(Image.open(path))
        assert pixels.size > 0 and pixels.std() > 0, f"{api}'s reference image is blank"  # a blank reference would prove nothing
        references.append((Path(path).read_bytes(), pixels))
    assert references[0][1].shape[:2] == (242, 242) and references[1][1].shape[:2] == (28, 28)

    start, in_flight, peak, lock = threading.Barrier(N_SESSIONS), [0], [0], threading.Lock()

    def session(client) -> list[str]:
        start.wait()
        results = []
        for k in range(N_CALLS):
            (args, api), (expected, pixels) = CALLS[k % 2], references[k % 2]
            with lock:
                in_flight[0] += 1
                peak[0] = max(peak[0], in_flight[0])
            try:
                results.append(_check(client.predict(*args, api_name=api), expected, pixels))
            except Exception as err:  # noqa: BLE001 - a failed call is a failure to report, with the others
                results.append(f"{api} failed: {type(err).__name__}: {str(err)[:120]}")
            finally:
                with lock:
                    in_flight[0] -= 1
        return results

    began = time.perf_counter()
    with ThreadPoolExecutor(N_SESSIONS) as pool:
        results = [r for rs in pool.map(session, clients) for r in rs]
    seconds = time.perf_counter() - began
    bad = [r for r in results if r != "ok"]
    assert len(results) == N_SESSIONS * N_CALLS
    assert peak[0] >= N_SESSIONS // 2, f"only {peak[0]} calls were in flight at once"  # the sessions really called at once
    assert not bad, f"{len(bad)} of {len(results)} outputs broken in {seconds:.0f} s, e.g. {sorted(set(bad))[:5]}"
