"""Find, load and export checkpoints: bundled names, local folders and Hub repo ids.

A checkpoint is what ``HubModel.save_pretrained`` writes: ``config.json`` (constructor
arguments and a ``family`` tag), ``model.safetensors`` and a model card. ``load`` accepts

- a bundled name, e.g. ``"vae"`` (a folder under ``assets/checkpoints/``);
- a local folder holding those files (the CLI; the app only with ``PLAYGROUND_ALLOW_FOLDERS=1``);
- a Hugging Face Hub repo id, ``"owner/name"``, fetched with ``hf_hub_download``
  (which honours ``HF_ENDPOINT``, ``HF_HOME`` and ``HF_HUB_OFFLINE``). The Hub is asked
  first whether it answers at all, within ``HUB_TIMEOUT_S``; when it does not, only the
  local cache is used, so an unreachable Hub is said in seconds ("offline?"), not after
  huggingface_hub's retries (about 23 s).

Every failure is a ``CheckpointError`` (a ``ValueError``) whose message says what was
wrong, so the CLI and the UI can show it as is. Nothing is ever unpickled.
"""

from __future__ import annotations

import concurrent.futures
import inspect
import os
import re
import shutil
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

import torch
from huggingface_hub import constants, get_session, hf_hub_download, try_to_load_from_cache
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from models import FAMILIES, CheckpointError, HubModel
from models.hub import CONFIG_NAME, WEIGHTS_NAME, read_config
from playground.core.data import ASSETS_DIR

BUNDLED_DIR = ASSETS_DIR / "checkpoints"
ALLOW_FOLDERS_ENV = "PLAYGROUND_ALLOW_FOLDERS"
EXPORT_DIR = Path(tempfile.gettempdir()) / "playground-exports"
EXPORT_MAX_AGE_S = 3 * 3600
T = TypeVar("T")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")

__all__ = ["BUNDLED_DIR", "CheckpointError", "bundled_names", "check_repo_id", "check_zip_members", "export_zip", "folders_allowed", "load", "resolve", "unpack_zip"]
MAX_ZIP_BYTES = 256 * 2**20  # uncompressed; the largest bundled checkpoint is ~4 MB
# A member over 1 MB that expands more than this many times is refused as a likely zip bomb (weights and photos
# compress far less; a blank 4096 x 4096 BMP compresses ~1000 times and is refused too).
MAX_ZIP_RATIO = 100
HUB_TIMEOUT_S = 5.0  # how long a load waits for the Hub to answer before it says "offline?" (and uses the cache only)
MAX_QUOTE = 80  # characters of a source quoted in a message


def bundled_names() -> list[str]:
    """Names of the checkpoints shipped in ``assets/checkpoints`` (sorted)."""
    if not BUNDLED_DIR.is_dir():
        return []
    return sorted(p.name for p in BUNDLED_DIR.iterdir() if (p / CONFIG_NAME).is_file())


def folders_allowed() -> bool:
    """Whether checkpoints may be loaded from server folders named in the UI: only with
    ``PLAYGROUND_ALLOW_FOLDERS=1`` (off by default everywhere, locally too: a name typed in
    the page must not tell whether a file exists on the server). Visitors use bundled
    names, Hub repo ids or upload a zip; the CLI always allows folders (the user's own)."""
    return os.environ.get(ALLOW_FOLDERS_ENV, "").strip().lower() in ("1", "true", "yes")


def _quote(source: Any) -> str:
    """``source`` quoted for a message, cut to ``MAX_QUOTE`` characters (an ellipsis marks the cut)."""
    text = repr(str(source))
    return text if len(text) <= MAX_QUOTE else text[: MAX_QUOTE - 2] + "…" + text[0]


def resolve(source: str, allow_folders: bool = True) -> tuple[str, str]:
    """Say what ``source`` names.

    Args:
        allow_folders: whether a local folder may be named (see ``folders_allowed``).

    Returns:
        ``(kind, location)``: ``("bundled", folder)``, ``("folder", folder)`` or
        ``("hub", repo_id)``.

    Raises:
        CheckpointError: empty, a path that is not a folder, a folder when folders are
            not allowed, or none of the three.
    """
    if not isinstance(source, str) or not source.strip():
        raise CheckpointError("give a checkpoint: a bundled name, a local folder or a Hub repo id (owner/name)")
    source = source.strip()
    if source in bundled_names():
        return "bundled", str(BUNDLED_DIR / source)
    looks_like_repo = bool(_REPO_ID.match(source)) and ".." not in source
    if not allow_folders:  # decided without touching the disk, so nothing can be probed
        if looks_like_repo:
            return "hub", source
        raise CheckpointError(
            f"{_quote(source)} is not a bundled checkpoint ({', '.join(bundled_names())}) or a Hub repo id (owner/name); "
            "loading folders of the server is turned off here: upload a checkpoint .zip instead"
        )
    try:
        path = Path(source).expanduser()
        exists, is_dir = path.exists(), path.is_dir()
    except (OSError, ValueError, RuntimeError):  # a name too long, a NUL byte, an unknown ~user
        exists = is_dir = False
    if looks_like_repo and not exists:
        return "hub", source
    if exists:
        if not is_dir:
            raise CheckpointError(f"{_quote(source)} is a file; give the folder that holds {CONFIG_NAME} and model.safetensors")
        return "folder", str(path)
    raise CheckpointError(
        f"{_quote(source)} is not a bundled checkpoint ({', '.join(bundled_names()) or 'none'}), "
        "an existing folder, or a Hub repo id of the form owner/name"
    )


def hub_reachable(timeout_s: float = HUB_TIMEOUT_S) -> bool:
    """Whether the Hub (``HF_ENDPOINT``) answers an HTTP request within ``timeout_s`` seconds (any answer counts);
    False at once with ``HF_HUB_OFFLINE`` set or when its name does not resolve. The request runs in a thread that is
    given up on after ``timeout_s``, as a name lookup itself has no timeout."""
    if constants.HF_HUB_OFFLINE:
        return False

    def ask() -> None:
        get_session().head(constants.ENDPOINT, timeout=timeout_s, follow_redirects=False)

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        pool.submit(ask).result(timeout=timeout_s)
        return True
    except Exception:  # noqa: BLE001 - no name, no route, refused, timed out: all mean "not reachable now"
        return False
    finally:
        pool.shutdown(wait=False)


def _cached(repo_id: str, filename: str, revision: str | None) -> str:
    """The path of ``filename`` of ``repo_id`` in the local Hub cache (no request).

    Raises:
        CheckpointError: it is not cached ("offline?")."""
    found = try_to_load_from_cache(repo_id, filename, revision=revision)
    if not isinstance(found, str):
        raise CheckpointError(
            f"could not download {filename} of {repo_id!r}: the Hub cannot be reached (offline?) and it is not cached"
            f" (a load gives the Hub {HUB_TIMEOUT_S:g} s to answer)"
        )
    return found


def _hub_call(repo_id: str, what: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` (a Hub download of ``what`` from ``repo_id``), turning the
    Hub's many errors into one readable CheckpointError."""
    # Order matters: GatedRepoError subclasses RepositoryNotFoundError, and
    # LocalEntryNotFoundError (offline, not cached) subclasses EntryNotFoundError.
    try:
        return fn(*args, **kwargs)
    except GatedRepoError:
        raise CheckpointError(f"Hub repo {repo_id!r} is gated: accept its terms and log in first") from None
    except RepositoryNotFoundError:
        raise CheckpointError(f"the Hub has no repo {repo_id!r} (or it is private)") from None
    except RevisionNotFoundError:
        raise CheckpointError(f"Hub repo {repo_id!r} has no such revision") from None
    except LocalEntryNotFoundError:
        raise CheckpointError(
            f"could not download {what} of {repo_id!r}: the Hub cannot be reached (offline?) and it is not cached"
            f" (a load gives the Hub {HUB_TIMEOUT_S:g} s to answer)"
        ) from None
    except EntryNotFoundError:
        raise CheckpointError(f"Hub repo {repo_id!r} has no {what}: it is not a playground checkpoint") from None
    except (HfHubHTTPError, OSError) as err:
        raise CheckpointError(f"could not download {what} of {repo_id!r} from the Hub ({type(err).__name__})") from None


def _init_parameters(cls: type[HubModel]) -> set[str]:
    return set(inspect.signature(cls.__init__).parameters) - {"self"}


def load(
    source: str,
    family: str | tuple[str, ...] | None = None,
    device: torch.device | str | None = None,
    revision: str | None = None,
    allow_folders: bool = True,
    name: str | None = None,
) -> HubModel:
    """Load a checkpoint strictly, in eval mode, onto ``device`` (default CPU).

    Args:
        source: a bundled name, a local folder or a Hub repo id (see ``resolve``).
        family: the family (or families) the caller can use; another is an error.
        revision: a Hub branch, tag or commit (Hub sources only).
        allow_folders: whether ``source`` may be a local folder (see ``resolve``).
        name: how messages call the checkpoint (e.g. "the uploaded zip" for a folder the
            server unpacked); default ``source``, quoted and cut to 80 characters.

    Raises:
        CheckpointError: the source cannot be found or fetched (the Hub not answering
            within ``HUB_TIMEOUT_S`` and nothing cached: "offline?"); ``config.json`` is
            missing, not JSON, untagged, of an unknown or unwanted family, or has unknown
            or invalid settings; ``model.safetensors`` is missing, corrupt or does not
            match the config. Messages never hold the folder's path unless it is ``source``.
    """
    kind, location = resolve(source, allow_folders)
    name = name or _quote(source)
    try:
        return _load(kind, location, name, family, device, revision)
    except CheckpointError as err:
        raise CheckpointError(str(err) if kind == "hub" else str(err).replace(str(location), name)) from None


def _load(kind: str, location: str, source: str, family: Any, device: Any, revision: str | None) -> HubModel:
    """``load`` of a resolved source; ``source`` is what its messages call it."""
    # The Hub not answering: only the cache is read (without huggingface_hub, whose every call first tries the Hub
    # for a registry of its own, 3 s more), so "offline?" is said within HUB_TIMEOUT_S, not after its retries.
    offline = kind == "hub" and not hub_reachable()
    if offline:
        config_file = _cached(location, CONFIG_NAME, revision)
        kind, location = "folder", os.path.dirname(_cached(location, WEIGHTS_NAME, revision))
    elif kind == "hub":
        config_file = _hub_call(
            location, CONFIG_NAME, hf_hub_download, repo_id=location, filename=CONFIG_NAME, revision=revision, etag_timeout=HUB_TIMEOUT_S,
        )
    else:
        config_file = os.path.join(location, CONFIG_NAME)
    config = read_config(config_file)
    found = config.pop("family", None)
    if not isinstance(found, str) or found not in FAMILIES:
        raise CheckpointError(
            f"{source} is not a playground checkpoint: its {CONFIG_NAME} has family {str(found)[:60]!r}; "
            f"known families: {', '.join(FAMILIES)}"
        )
    wanted = (family,) if isinstance(family, str) else family
    if wanted and found not in wanted:
        raise CheckpointError(f"{source} holds a {found} checkpoint; this needs {' or '.join(wanted)}")
    cls = FAMILIES[found]
    dataset = config.pop("dataset", "")
    unknown = sorted(set(config) - _init_parameters(cls))
    if unknown:
        raise CheckpointError(f"{CONFIG_NAME} of {source} has settings a {found} does not take: {unknown}")
    map_location = str(torch.device(device) if device is not None else "cpu")
    try:
        if kind == "hub":
            model = _hub_call(
                location, "model.safetensors", cls.from_pretrained, location, revision=revision,
                map_location=map_location, **config,
            )
        else:
            model = cls.from_pretrained(location, map_location=map_location, **config)
    except CheckpointError:
        raise
    except ValueError as err:
        raise CheckpointError(f"{CONFIG_NAME} of {source} is not a valid {found}: {err}") from None
    model.trained_on = str(dataset)[:300] if isinstance(dataset, str) else ""
    return model.to(map_location).eval()


def new_export_dir() -> Path:
    """A new empty folder for files the app offers for download (checkpoint zips,
    animations). They all live under one temporary folder; folders older than three
    hours are deleted by each call, so a long-running app does not fill the disk."""
    EXPORT_DIR.mkdir(exist_ok=True)
    now = time.time()
    for old in EXPORT_DIR.iterdir():
        try:
            if now - old.stat().st_mtime > EXPORT_MAX_AGE_S:
                shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()
        except OSError:
            pass  # another process cleaned it first
    return Path(tempfile.mkdtemp(prefix="export-", dir=EXPORT_DIR))


def export_zip(model: HubModel, name: str = "checkpoint", notes: str = "") -> Path:
    """Save ``model`` with ``save_pretrained`` and zip the folder, for a download button.

    Exports live in one temporary folder; those older than three hours are deleted by
    each new export, so a long-running app does not fill the disk.

    Returns:
        Path of a new ``<name>.zip`` holding ``<name>/`` with ``config.json``,
        ``model.safetensors`` and ``README.md``.
    """
    workdir = new_export_dir()
    model.save_pretrained(workdir / name, notes=notes)
    archive = shutil.make_archive(str(workdir / name), "zip", root_dir=workdir, base_dir=name)
    shutil.rmtree(workdir / name)
    return Path(archive)


def check_zip_members(archive: zipfile.ZipFile, max_bytes: int = MAX_ZIP_BYTES) -> list[zipfile.ZipInfo]:
    """The file members of ``archive`` (directories left out), checked from its central
    directory before any is read; ``zipfile`` then never inflates a member past the size
    its header states, so these checks bound what reading can cost.

    Raises:
        CheckpointError: a member with an absolute, drive or ``..`` path; a member over
            1 MB that expands more than ``MAX_ZIP_RATIO`` times (a zip bomb); more than
            ``max_bytes`` uncompressed in all. Messages quote at most 80 characters of a name.
    """
    members = [m for m in archive.infolist() if not m.is_dir()]
    for member in members:
        parts = PurePosixPath(member.filename.replace("\\", "/")).parts
        if member.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise CheckpointError(f"the zip holds an unsafe path: {member.filename[:80]!r}")
        if member.file_size > 2**20 and member.file_size > MAX_ZIP_RATIO * max(member.compress_size, 1):
            raise CheckpointError(
                f"the zip member {member.filename[:80]!r} expands {member.file_size / max(member.compress_size, 1):,.0f} times "
                f"(more than {MAX_ZIP_RATIO}): refused as a likely zip bomb"
            )
    if sum(m.file_size for m in members) > max_bytes:
        raise CheckpointError(f"the zip is larger than {max_bytes // 2**20} MB uncompressed")
    return members


def unpack_zip(path: str | Path, out: str | Path) -> Path:
    """Extract a checkpoint zip (as ``export_zip`` writes, or any zip holding one
    ``config.json`` with its ``model.safetensors`` beside it) into the folder ``out``,
    taking only those two files.

    Returns:
        ``out``, now holding the extracted ``config.json`` and ``model.safetensors``.

    Raises:
        CheckpointError: no file, not a (readable) zip; no, or several, ``config.json``;
            a member with an absolute or ``..`` path, a zip bomb, more than 256 MB
            uncompressed (``check_zip_members``).
    """
    if not path:
        raise CheckpointError("no file was uploaded")
    out = Path(out)
    try:
        with zipfile.ZipFile(path) as archive:
            members = check_zip_members(archive)
            configs = [m for m in members if PurePosixPath(m.filename).name == CONFIG_NAME]
            if len(configs) != 1:
                raise CheckpointError(f"the zip must hold exactly one {CONFIG_NAME}, it holds {len(configs)}")
            folder = PurePosixPath(configs[0].filename).parent
            for name in (CONFIG_NAME, "model.safetensors"):
                wanted = name if str(folder) == "." else str(folder / name)
                for member in (m for m in members if m.filename == wanted):
                    (out / name).write_bytes(archive.read(member))
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError, OSError, ValueError) as err:
        if isinstance(err, CheckpointError):
            raise
        raise CheckpointError(
            f"the upload is not a readable zip file ({type(err).__name__}): upload the .zip that 'Download this model' gave you"
        ) from None
    return out


def check_repo_id(repo_id: Any) -> str:
    """A Hub repo id ``owner/name`` (stripped) of the form ``resolve`` takes for one: two
    parts of letters, digits, ``-``, ``_`` and ``.``, each starting with a letter or digit
    and at most 96 characters long, and no ``..``.

    Raises:
        CheckpointError: anything else (the message quotes at most 80 characters of it).
    """
    text = repo_id.strip() if isinstance(repo_id, str) else ""
    if not _REPO_ID.match(text) or ".." in text:
        raise CheckpointError(f"give a Hub repo id of the form owner/name, e.g. your-name/my-model; got {str(repo_id)[:80]!r}")
    return text
