"""The compare view: the CLI's JSON on two tiny checkpoints (a NADE and a GAN, 40 samples
each), the kept rows reused only while their key matches, the table's formatting and the
plot's points from hand-made rows, the side-by-side picture, and the DBN's bound against
the exact log-likelihood of a tiny DBN. No gradio here."""

from __future__ import annotations

import json
import math

import pytest
import torch

from models import GAN, NADE, RBM
from models.base import seeded_init
from models.dbn import DBN
from playground import cli
from playground.views import compare, compare_rows
from playground.views.base import Context
from playground.views.compare import COMPUTING, HEADERS, CompareViews, text_table
from playground.views.compare_rows import RowSpec, dbn_log_prob_bound, pack_samples, row_key, unpack_samples

KEYS = {
    "key", "title", "checkpoint", "nll_nats", "nll_kind", "nll_range", "nll_note", "bits_per_dim", "agreed_confident_share", "n_classes_agreed",
    "agreed_class_counts", "precision", "recall", "features_judge", "label_agreement_agreed", "n_params", "train_seconds", "train_note",
    "samples_per_s", "published_nll", "published_source", "seconds",
}


@pytest.fixture(scope="module")
def ctx(data):
    return Context(torch.device("cpu"), data)


@pytest.fixture(scope="module")
def specs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("checkpoints")
    card = "Trained with `python -m playground train {} --steps 300 --batch-size 16 --seed 0` on mnist-5k."
    seeded_init(NADE, 0, n_hidden=8).save_pretrained(folder / "nade", notes=card.format("nade"))
    seeded_init(GAN, 0, latent_dim=8, width=8).save_pretrained(folder / "gan", notes=card.format("gan"))
    return (RowSpec("tiny_nade", "Tiny NADE", str(folder / "nade"), 88.33, "a paper"), RowSpec("tiny_gan", "Tiny GAN", str(folder / "gan"), None, "no likelihood"))


@pytest.fixture()
def tiny(monkeypatch, specs, tmp_path):
    monkeypatch.setattr(compare_rows, "N_SAMPLES", 40)
    monkeypatch.setattr(compare, "ROWS", specs)
    monkeypatch.setattr(compare, "COMPARE_FILE", tmp_path / "compare.json")
    return tmp_path / "compare.json"


def test_the_cli_prints_and_writes_every_agreed_column(tiny, specs, capsys, one_thread):
    assert cli.main(["compare", "--json", "--write"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert list(rows) == ["tiny_nade", "tiny_gan"] and all(set(row) == KEYS for row in rows.values()), [set(r) ^ KEYS for r in rows.values()]
    nade, gan = rows["tiny_nade"], rows["tiny_gan"]
    assert nade["nll_kind"] == "exact" and 300 < nade["nll_nats"] < 700 and nade["bits_per_dim"] == pytest.approx(nade["nll_nats"] / (784 * math.log(2)))
    assert gan["nll_kind"] == "none" and gan["nll_nats"] is None and gan["bits_per_dim"] is None and gan["published_nll"] is None
    assert nade["n_params"] == sum(p.numel() for p in seeded_init(NADE, 0, n_hidden=8).parameters()) and nade["published_nll"] == 88.33
    for row in rows.values():
        assert 0 <= row["agreed_confident_share"] <= 1 and 0 <= row["precision"] <= 1 and 0 <= row["recall"] <= 1 and row["samples_per_s"] > 0
        assert row["train_seconds"] > 0 and "× the card's 300 steps of 16" in row["train_note"] and row["key"]["test_fingerprint"]
    kept = json.loads(tiny.read_text())["rows"]
    assert set(kept) == set(rows) and unpack_samples(kept["tiny_nade"]["samples"]).shape == (16, 1, 28, 28)
    assert cli.main(["compare"]) == 0  # read back, nothing computed: the text table
    out = capsys.readouterr().out
    assert out.startswith("family") and "Tiny NADE" in out and COMPUTING not in out and "nan" not in out.lower()


def test_kept_rows_are_reused_only_while_their_key_matches(ctx, specs, tiny, monkeypatch):
    calls = []

    def fake_row(spec, ctx, log=None):
        calls.append(spec.key)
        return {"title": spec.title, "nll_nats": 100.0, "nll_kind": "exact", "agreed_confident_share": 0.5, "samples": pack_samples(torch.rand(16, 1, 28, 28))}

    monkeypatch.setattr(compare, "compute_row", fake_row)
    views = CompareViews(ctx)
    assert [s.key for s in views.pending()] == ["tiny_nade", "tiny_gan"] and COMPUTING in views.table()[1][0][2]
    thread = views.start()
    assert thread is views.start()  # one thread, started once
    thread.join(30)
    assert calls == ["tiny_nade", "tiny_gan"] and views.pending() == [] and COMPUTING not in str(views.table())
    views.write()
    again = CompareViews(ctx)
    assert again.pending() == [] and again.start() is None
    seeded_init(NADE, 1, n_hidden=8).save_pretrained(specs[0].source)  # other weights: the NADE row no longer matches
    changed = CompareViews(ctx)
    assert [s.key for s in changed.pending()] == ["tiny_nade"]
    changed.compute()
    assert calls[-1] == "tiny_nade" and len(calls) == 3
    assert row_key(specs[0], ctx.data) != row_key(RowSpec("x", "x", specs[1].source, None, ""), ctx.data)
    with pytest.raises(ValueError, match="no row nope"):
        changed.compute(["nope"])


def _handmade(ctx, specs, path):
    """Rows in a kept file with matching keys: an AIS estimate with a range reaching -inf, an
    implicit model, and a row with missing figures."""
    rbm = {"nll_nats": 98.86, "nll_kind": "AIS estimate", "nll_range": [None, 99.3], "bits_per_dim": 0.182, "agreed_confident_share": 0.764,
           "n_classes_agreed": 10, "precision": 0.7, "recall": 0.5, "n_params": 393_284, "train_seconds": 754.0, "train_note": "estimated: ...",
           "samples_per_s": 18.4, "title": "A", "samples": pack_samples(torch.rand(16, 1, 28, 28))}
    gan = {"nll_nats": None, "nll_kind": "none", "agreed_confident_share": 0.8, "n_params": 1_234_567, "train_seconds": 3.2, "train_note": "measured", "samples_per_s": 0.5}
    spec3 = RowSpec("third", "Third", specs[0].source, None, "—")
    rows = {"tiny_nade": rbm, "tiny_gan": gan, "third": {"nll_nats": float("nan"), "nll_kind": "exact"}}
    for spec in (*specs, spec3):
        rows[spec.key]["key"] = row_key(spec, ctx.data)
    path.write_text(json.dumps({"rows": rows}))
    return (*specs, spec3, RowSpec("fourth", "Fourth", "/nowhere", None, "—"))


def test_the_table_formats_every_figure_and_says_what_is_missing(ctx, specs, tmp_path):
    all_specs = _handmade(ctx, specs, tmp_path / "c.json")
    headers, rows, note = CompareViews(ctx, tmp_path / "c.json", all_specs).table()
    assert headers == HEADERS and all(len(r) == len(HEADERS) for r in rows)
    a, b, third, fourth = rows
    assert a[2:12] == ["98.9 (−∞ to 99.3)", "AIS estimate", "0.182", "76.4%", "10", "0.70", "0.50", "393 k", "≈ 13 min", "18"] and a[12] == "88.33"
    assert b[2:4] == ["—", "none"] and b[9:12] == ["1.23 M", "3.2 s", "0.50"] and b[12] == "—"
    assert third[2] == "—" and fourth[2] == COMPUTING and "nan" not in str(rows).lower()
    assert "1 row(s) in the background (Fourth)" in note and "AIS estimate" in note
    assert text_table(["a", "bb"], [["ccc", "d"]]) == "a    bb\nccc  d"


def test_the_plot_has_one_point_per_scored_family_and_the_picture_a_row_each(ctx, specs, tmp_path):
    views = CompareViews(ctx, tmp_path / "c.json", _handmade(ctx, specs, tmp_path / "c.json"))
    fig = views.nll_vs_quality()
    points = {t.name: (list(t.x), list(t.y)) for t in fig.data}
    assert sum(len(x) for x, _ in points.values()) == 2 and points["AIS estimate"] == ([98.86], [pytest.approx(76.4)])
    band = [s for s in fig.layout.shapes][0]
    assert band.x0 < points["none"][0][0] < band.x1 and "nan" not in fig.to_json().lower()
    picture = views.samples_picture(4)
    assert picture.dtype == "uint8" and picture.shape == (4 * 64, compare.LABEL_PX + (4 * 30 + 2) * 2, 3)
    assert views.thumbnail().dtype == "uint8"
    with pytest.raises(ValueError, match="samples per family"):
        views.samples_picture(17)


def test_the_dbn_bound_is_below_the_exact_log_likelihood_and_exact_for_one_layer(data):
    x = data.images("test", "binary")[:5]
    one = seeded_init(DBN, 0, hidden_sizes=[6])
    one.layers[0].weight.data.normal_(0, 0.3, generator=torch.Generator().manual_seed(0))
    exact_rbm = -one.layers[0].free_energy(x).double() - one.top.exact_log_partition()
    assert torch.allclose(dbn_log_prob_bound(one, x, one.top.exact_log_partition(), n_samples=1), exact_rbm)
    two = seeded_init(DBN, 0, hidden_sizes=[4, 3])
    g = torch.Generator().manual_seed(0)
    for layer, std in zip(two.layers, (0.1, 1.0)):  # weak bottom weights: q(h1 | v) is near the true posterior, and the bound near log p(v)
        layer.weight.data.normal_(0, std, generator=g)
    bottom, top = two.layers
    h1 = ((torch.arange(16)[:, None] >> torch.arange(4)) & 1).float()  # every state of the 4 middle units
    log_top = -top.free_energy(h1).double() - top.exact_log_partition()  # (16,)
    logits = h1 @ bottom.weight.T + bottom.visible_bias  # (16, 784)
    log_v_given_h = -torch.nn.functional.binary_cross_entropy_with_logits(logits[None].expand(5, -1, -1), x.view(5, 1, 784).expand(-1, 16, -1), reduction="none").double().sum(2)
    exact = torch.logsumexp(log_v_given_h + log_top, 1)
    bound = dbn_log_prob_bound(two, x, top.exact_log_partition(), n_samples=1000, generator=torch.Generator().manual_seed(1))
    assert (bound < exact).all() and (bound > exact - 2).all(), (bound, exact)  # the gap, KL(q || posterior), is 0.5-0.9 nats here


def test_phases_recipes_and_packing():
    dbn = seeded_init(DBN, 0, hidden_sizes=[4, 3], steps_per_layer=10)
    assert [(name, n) for name, _, n in compare_rows._phases(dbn, 25)] == [("layer 1", 10), ("layer 2", 15)]
    rbm = seeded_init(RBM, 0, n_hidden=4)
    assert [(name, n) for name, _, n in compare_rows._phases(rbm, 7)] == [("", 7)]
    assert compare_rows.card_recipe("rbm", rbm) == (20000, 100) and compare_rows.card_recipe("nade", rbm)[1] == 64
    images = torch.rand(3, 1, 28, 28)
    assert (unpack_samples(pack_samples(images)) - images).abs().max() <= 0.5 / 255 + 1e-6
    with pytest.raises(ValueError, match="unreadable"):
        unpack_samples({"n": 3, "pixels": "not base64!"})
