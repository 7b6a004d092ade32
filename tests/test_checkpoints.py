"""load(source): bundled names, folders, the Hub (a local server), and every bad case."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from conftest import ROOT
from safetensors.torch import save_file

from models import VAE, MnistClassifier
from models.base import seeded_init
from playground.core import checkpoints
from playground.core.checkpoints import CheckpointError, export_zip, load, resolve


@pytest.fixture
def tiny_vae(tmp_path):
    model = seeded_init(VAE, 0, latent_dim=2, arch="mlp", hidden_dim=16)
    model.save_pretrained(tmp_path / "tiny")
    return model, tmp_path / "tiny"


def test_bundled_checkpoints_load_and_are_small():
    names = checkpoints.bundled_names()
    assert {"vae", "vae-2d", "classifier"} <= set(names)
    for name in names:
        size = (checkpoints.BUNDLED_DIR / name / "model.safetensors").stat().st_size
        # Under the project's 20 MB limit on any file; the largest, `made` (one hidden
        # layer of 2,000 units), is 12.6 MB: a 500-unit MADE (3 MB) completed digits worse.
        assert size < 16 * 2**20, name
    model = load("vae", family="vae")
    assert isinstance(model, VAE) and not model.training and model.latent_dim == 16


def test_folder_round_trip(tiny_vae):
    model, folder = tiny_vae
    loaded = load(str(folder), family="vae")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))


def test_resolve_kinds(tiny_vae):
    _, folder = tiny_vae
    assert resolve("vae")[0] == "bundled"
    assert resolve(str(folder)) == ("folder", str(folder))
    assert resolve("someone/some-model") == ("hub", "someone/some-model")


@pytest.mark.parametrize("source", ["", "   ", "not a name", "a/b/c", "../x/y", "/definitely/not/here"])
def test_unfindable_sources_say_what_is_accepted(source):
    with pytest.raises(CheckpointError) as info:
        load(source)
    assert "bundled" in str(info.value) or "give a checkpoint" in str(info.value)


def test_a_file_is_not_a_folder(tiny_vae):
    _, folder = tiny_vae
    with pytest.raises(CheckpointError, match="is a file"):
        load(str(folder / "config.json"))


def test_empty_folder(tmp_path):
    with pytest.raises(CheckpointError, match="no config.json"):
        load(str(tmp_path))


def test_missing_weights(tiny_vae):
    _, folder = tiny_vae
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="no model.safetensors"):
        load(str(folder))


def test_pickle_only_checkpoint_is_refused(tiny_vae):
    model, folder = tiny_vae
    (folder / "model.safetensors").unlink()
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="no model.safetensors"):
        load(str(folder))


def test_corrupt_weights(tiny_vae):
    _, folder = tiny_vae
    (folder / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="corrupt"):
        load(str(folder))


def test_truncated_weights(tiny_vae):
    _, folder = tiny_vae
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        load(str(folder))


@pytest.mark.parametrize("text,match", [("{not json", "not valid JSON"), ("[1, 2]", "JSON object"), ("\xff\xfe", "not valid JSON")])
def test_bad_config_file(tiny_vae, text, match):
    _, folder = tiny_vae
    (folder / "config.json").write_text(text, encoding="latin-1")
    with pytest.raises(CheckpointError, match=match):
        load(str(folder))


def _edit_config(folder, **changes):
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        config.pop(key)
    (folder / "config.json").write_text(json.dumps(config))


def test_config_that_does_not_match_the_weights(tiny_vae):
    _, folder = tiny_vae
    _edit_config(folder, latent_dim=3)
    with pytest.raises(CheckpointError, match="wrong shape"):
        load(str(folder))


def test_missing_and_extra_tensors(tiny_vae):
    model, folder = tiny_vae
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    removed = next(iter(state))
    save_file({k: v for k, v in state.items() if k != removed}, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="missing tensors"):
        load(str(folder))
    save_file({**state, "intruder": torch.zeros(3)}, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="unexpected tensors"):
        load(str(folder))


def test_invalid_and_unknown_settings(tiny_vae):
    _, folder = tiny_vae
    _edit_config(folder, arch="transformer")
    with pytest.raises(CheckpointError, match="not a valid vae.*arch"):
        load(str(folder))
    _edit_config(folder, arch="mlp", colour="blue")
    with pytest.raises(CheckpointError, match="colour"):
        load(str(folder))


@pytest.mark.parametrize("family", [["vae"], {"x": 1}, 3, None])
def test_odd_family_tags(tiny_vae, family):
    _, folder = tiny_vae
    config = json.loads((folder / "config.json").read_text())
    config["family"] = family
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="not a playground checkpoint"):
        load(str(folder))


def test_hostile_config_files(tiny_vae):
    _, folder = tiny_vae
    (folder / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(CheckpointError):
        load(str(folder))
    (folder / "config.json").write_text(" " * (2**20 + 10) + "{}")
    with pytest.raises(CheckpointError, match="larger than"):
        load(str(folder))
    (folder / "config.json").unlink()
    (folder / "config.json").mkdir()
    with pytest.raises(CheckpointError, match="no config.json"):
        load(str(folder))


def test_overlong_and_odd_sources():
    for source in ("x" * 5000, "a/" * 300, "bad\x00name"):
        with pytest.raises(CheckpointError, match="not a bundled checkpoint"):
            load(source)


def test_non_finite_or_mistyped_weights(tiny_vae):
    model, folder = tiny_vae
    state = {k: v.contiguous().clone() for k, v in model.state_dict().items()}
    first = next(iter(state))
    save_file({**state, first: torch.full_like(state[first], float("nan"))}, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        load(str(folder))
    save_file({**state, first: state[first].double()}, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="wrong dtype"):
        load(str(folder))


def test_folders_are_off_unless_allowed(tiny_vae, monkeypatch):
    """The app loads server folders only with PLAYGROUND_ALLOW_FOLDERS=1, on a Space or not, and a refusal does not
    touch the disk (so it tells nothing about which files exist); the CLI's default still loads them."""
    from playground.core.checkpoints import folders_allowed

    _, folder = tiny_vae
    monkeypatch.delenv("PLAYGROUND_ALLOW_FOLDERS", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert not folders_allowed()
    for source in (str(folder), "/etc/passwd", "/no/such/folder"):
        with pytest.raises(CheckpointError, match="loading folders of the server is turned off") as info:
            load(source, allow_folders=folders_allowed())
        assert "is a file" not in str(info.value)
    with pytest.raises(CheckpointError) as info:
        load("x" * 5000, allow_folders=False)
    assert "x" * 80 not in str(info.value) and "…" in str(info.value)
    assert load("vae", allow_folders=False).family == "vae"
    monkeypatch.setenv("SPACE_ID", "someone/playground")
    assert not folders_allowed()
    monkeypatch.setenv("PLAYGROUND_ALLOW_FOLDERS", "1")
    assert folders_allowed() and load(str(folder), allow_folders=folders_allowed()).family == "vae"
    assert load(str(folder)).family == "vae"  # the CLI's default


def test_untagged_and_other_family(tiny_vae, tmp_path):
    _, folder = tiny_vae
    _edit_config(folder, family=None)
    with pytest.raises(CheckpointError, match="not a playground checkpoint"):
        load(str(folder))
    seeded_init(MnistClassifier, 0, width=4, n_features=8).save_pretrained(tmp_path / "clf")
    with pytest.raises(CheckpointError, match="holds a classifier checkpoint; this needs vae"):
        load(str(tmp_path / "clf"), family="vae")


def test_export_zip_holds_a_loadable_checkpoint(tiny_vae, tmp_path):
    import zipfile

    model, _ = tiny_vae
    archive = export_zip(model, name="mine", notes="hello")
    with zipfile.ZipFile(archive) as z:
        assert sorted(z.namelist()) == ["mine/", "mine/README.md", "mine/config.json", "mine/model.safetensors"]
        z.extractall(tmp_path / "unzipped")
    loaded = load(str(tmp_path / "unzipped" / "mine"), family="vae")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    assert "hello" in (tmp_path / "unzipped" / "mine" / "README.md").read_text()


_HUB_SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {root!r})
    from playground.core.checkpoints import load, CheckpointError
    out = {{}}
    for source in sys.argv[1:]:
        try:
            model = load(source)
            out[source] = ["ok", model.family, model.config]
        except CheckpointError as err:
            out[source] = ["error", str(err)]
    print(json.dumps(out))
    """
)


def _run_hub(endpoint, hf_home, *sources, offline=False):
    env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_HOME": str(hf_home), "HF_HUB_DISABLE_TELEMETRY": "1"}
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    proc = subprocess.run(
        [sys.executable, "-c", _HUB_SCRIPT.format(root=str(ROOT)), *sources],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_hub_repo_ids_download_through_hf_hub_download(hub_server, tiny_vae, tmp_path):
    """The Hub path, end to end, against a local HTTP server speaking the Hub's
    resolve API; then offline, from the cache it filled."""
    endpoint, repos = hub_server
    _, folder = tiny_vae
    repos["someone/tiny-vae"] = folder
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((folder / "config.json").read_text())
    (broken / "model.safetensors").write_bytes(b"not safetensors at all")
    repos["someone/broken"] = broken
    empty = tmp_path / "empty"
    empty.mkdir()
    repos["someone/empty"] = empty
    hf_home = tmp_path / "hf"
    got = _run_hub(endpoint, hf_home, "someone/tiny-vae", "someone/missing", "someone/broken", "someone/empty")
    assert got["someone/tiny-vae"] == ["ok", "vae", {"latent_dim": 2, "arch": "mlp", "hidden_dim": 16, "beta": 1.0}]
    assert got["someone/missing"][0] == "error" and "no repo 'someone/missing'" in got["someone/missing"][1]
    assert got["someone/broken"][0] == "error" and "corrupt" in got["someone/broken"][1]
    assert got["someone/empty"][0] == "error" and "no config.json" in got["someone/empty"][1]
    offline = _run_hub("http://127.0.0.1:9", hf_home, "someone/tiny-vae", "someone/never-seen", offline=True)
    assert offline["someone/tiny-vae"][0] == "ok"
    assert offline["someone/never-seen"][0] == "error" and "cannot be reached" in offline["someone/never-seen"][1]


def test_unpack_zip_round_trip_and_refusals(tiny_vae, tmp_path):
    import zipfile

    from playground.core.checkpoints import unpack_zip

    model, folder = tiny_vae
    folder_out = unpack_zip(export_zip(model, name="mine"), _fresh(tmp_path))
    assert sorted(p.name for p in folder_out.iterdir()) == ["config.json", "model.safetensors"]
    assert load(str(folder_out), family="vae").config == model.config

    flat = tmp_path / "flat.zip"
    with zipfile.ZipFile(flat, "w") as z:
        z.write(folder / "config.json", "config.json")
        z.write(folder / "model.safetensors", "model.safetensors")
    assert load(str(unpack_zip(flat, _fresh(tmp_path)))).family == "vae"

    (tmp_path / "not.zip").write_bytes(b"hello")
    bad = {"not.zip": "not a readable zip file"}
    for name, members, message in (
        ("evil.zip", {"../../evil/config.json": "{}"}, "unsafe path"),
        ("abs.zip", {"/etc/config.json": "{}"}, "unsafe path"),
        ("none.zip", {"readme.txt": "hi"}, "exactly one config.json"),
        ("two.zip", {"a/config.json": "{}", "b/config.json": "{}"}, "exactly one config.json"),
    ):
        with zipfile.ZipFile(tmp_path / name, "w") as z:
            for member, text in members.items():
                z.writestr(member, text)
        bad[name] = message
    for name, message in bad.items():
        with pytest.raises(CheckpointError, match=message):
            unpack_zip(tmp_path / name, _fresh(tmp_path))
    weightless = tmp_path / "weightless.zip"
    with zipfile.ZipFile(weightless, "w") as z:
        z.write(folder / "config.json", "x/config.json")
    with pytest.raises(CheckpointError, match="no model.safetensors"):
        load(str(unpack_zip(weightless, _fresh(tmp_path))))
    # a damaged archive: flip bytes inside the compressed weights
    damaged = bytearray(export_zip(model, name="mine").read_bytes())
    middle = len(damaged) // 2
    damaged[middle : middle + 64] = bytes(64)
    (tmp_path / "damaged.zip").write_bytes(bytes(damaged))
    with pytest.raises(CheckpointError, match="not a readable zip"):
        unpack_zip(tmp_path / "damaged.zip", _fresh(tmp_path))
    with pytest.raises(CheckpointError, match="no file"):
        unpack_zip(None, _fresh(tmp_path))


def _fresh(tmp_path):
    import tempfile

    return tempfile.mkdtemp(dir=tmp_path)
