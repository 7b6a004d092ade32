"""Atomic writes for the files Gradio serves as outputs, so no session ever downloads a half-written image or clip.

Gradio caches an output image or clip under the hash of its content, ``<GRADIO cache>/<sha256>/image.png``, and its
``save_pil_to_cache``, ``save_img_array_to_cache``, ``save_bytes_to_cache`` and ``save_audio_to_cache`` write that path in
place (truncate, then write). When several sessions produce the same output at once (a class pressing "sample" with seed 0)
one request rewrites the file while another session's download, or Gradio's own read of it, is reading it: the reader gets
0 bytes (a "successful" empty image, hashed by the client as ``e3b0c442...``, the SHA-256 of nothing) or fewer bytes than
the ``Content-Length`` it declared (``h11 LocalProtocolError: Too little data for declared Content-Length`` on the server,
``RemoteProtocolError: peer closed connection`` on the client). Upstream reports: gradio-app/gradio #8878, #8351, #7155.
``save_file_to_cache`` (what a handler returning a file path goes through) is already atomic in Gradio 6.31.

``install()`` wraps those four functions in ``gradio.processing_utils``: each call runs Gradio's own function unchanged,
but with ``cache_dir`` set to a fresh private folder inside the cache (same file system), then moves the finished file to
the path Gradio would have written with ``os.replace``, which is atomic: a reader sees the whole old file or the whole new
one, never a partial one (POSIX rename: a reader that opened the old file keeps it; Spaces run Linux). The private folder,
``.atomic-*``, is removed before the call returns. A complete file already there with the same bytes is kept and touched (``os.utime``), as
``save_file_to_cache`` does, since ``delete_cache`` ages files by ctime. Names, hashes and return values stay Gradio's own.

Components look the functions up as ``processing_utils.<name>`` at call time (``gradio/image_utils.py`` for gr.Image and
the ImageEditor/Sketchpad, ``components/gallery.py``, ``components/audio.py``, ``components/annotated_image.py``), and
``save_img_array_to_cache`` calls ``save_pil_to_cache`` through the module global, so replacing the module attributes
covers every image and audio output of the app. Written against Gradio 6.31 (checked there); with a Gradio that lacks a
function, or one whose signature has no ``cache_dir``, that function is left as it is, and ``install`` never raises.
``tests/test_outputs.py`` reproduces the race with Gradio's own functions; ``tests/test_concurrency.py`` is the app-level test.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

WRAPPED = ("save_pil_to_cache", "save_img_array_to_cache", "save_bytes_to_cache", "save_audio_to_cache")
_MARK = "_playground_atomic"  # set on our wrappers: install() is idempotent
_STAGING_PREFIX = ".atomic-"
_inside = threading.local()  # a wrapped call that calls another (img_array -> pil) already writes in private


def install() -> list[str]:
    """Make Gradio's output cache writes atomic (see the module docstring); safe to call any number of times.

    Returns:
        the names in ``WRAPPED`` that are wrapped now (already wrapped ones included); empty when Gradio has none of
        them. Never raises.
    """
    try:
        from gradio import processing_utils
    except Exception:  # noqa: BLE001 - an app without gradio, or a broken one, keeps working unpatched
        return []
    done = []
    for name in WRAPPED:
        fn = getattr(processing_utils, name, None)
        if fn is None:
            continue
        if not getattr(fn, _MARK, False):
            wrapper = _atomic(fn)
            if wrapper is None:
                continue
            setattr(processing_utils, name, wrapper)
        done.append(name)
    return done


def upstream(name: str) -> Callable:
    """Gradio's own ``processing_utils.<name>`` (the unwrapped one, whether or not ``install`` ran); for tests.

    Raises:
        AttributeError: when this Gradio has no such function.
    """
    from gradio import processing_utils

    fn = getattr(processing_utils, name)
    return getattr(fn, "__wrapped__", fn) if getattr(fn, _MARK, False) else fn


def _atomic(fn: Callable) -> Callable | None:
    """``fn`` (a Gradio ``save_*_to_cache`` with a ``cache_dir`` argument) writing through a private folder and
    ``os.replace``; None when its signature has no ``cache_dir``."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    if "cache_dir" not in signature.parameters:
        return None

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if getattr(_inside, "active", False):
            return fn(*args, **kwargs)
        bound = signature.bind(*args, **kwargs)
        cache_dir = Path(bound.arguments["cache_dir"])
        cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=cache_dir))
        try:
            bound.arguments["cache_dir"] = str(staging)
            _inside.active = True
            try:
                written = fn(*bound.args, **bound.kwargs)
            finally:
                _inside.active = False
            published = _publish(Path(written), staging, cache_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return fn(*args, **kwargs) if published is None else published  # None: a Gradio that wrote elsewhere gets its own way

    setattr(wrapper, _MARK, True)
    return wrapper


def _publish(written: Path, staging: Path, cache_dir: Path) -> str | None:
    """Move ``written`` (a complete file under ``staging``) to the same relative path under ``cache_dir``, keeping and
    touching an identical file already there. Returns the final path, resolved as Gradio returns it; None when
    ``written`` is not under ``staging``."""
    try:
        relative = Path(os.path.realpath(written)).relative_to(os.path.realpath(staging))
    except ValueError:
        return None
    target = cache_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if _same_bytes(written, target):
        with contextlib.suppress(OSError):  # delete_cache ages files by ctime: a reused file starts a new life
            os.utime(target)
    else:
        os.replace(written, target)
    return str(target.resolve())


def _same_bytes(new: Path, old: Path) -> bool:
    """Whether ``old`` exists and holds exactly the bytes of ``new`` (outputs are small: images and short clips)."""
    try:
        return old.stat().st_size == new.stat().st_size and old.read_bytes() == new.read_bytes()
    except OSError:
        return False
