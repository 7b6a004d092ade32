"""The compare tab's layer of gradio: its pages open alive with what the views hold, the
background parts fill in through the refresh (only what changed, and the timer stops when
nothing is pending), the tour's steps run, a drawn image is scored by the densities, and
bad values through the endpoints (as gradio_client sends them) are readable errors.

Nothing slow runs here: the families' rows are hand-made figures kept (with their keys,
so they match the shipped weights) in a temporary compare.json, and the novelty page
scores with the Bernoulli mixture only (seconds); the app computes every row and density."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import torch
from panels import SKIP, build_tab, check_panels_independent, check_readable_error, endpoint

from playground.ui.tabs.compare import CompareTab
from playground.views.base import Context
from playground.views.compare import CompareViews
from playground.views.compare_rows import ROWS, pack_samples, row_key
from playground.views.compare_tab import CARD, COMPUTING, SCORE_HEADERS, TOUR, CompareAll, parse_counts
from playground.views.novelty import NoveltyViews

PAGES = ["cmp-table", "cmp-tasks", "cmp-samples", "cmp-nll", "cmp-novelty", "cmp-m1", "cmp-explain"]
MODEL = "bernoulli mixture"


def _kept_rows(data, path) -> None:
    """A compare.json with a hand-made row per family (test digits as its samples), keyed to the shipped weights."""
    rows = {}
    for i, spec in enumerate(ROWS):
        implicit = spec.published is None and "implicit" in spec.source_text
        rows[spec.key] = {
            "key": row_key(spec, data), "title": spec.title, "checkpoint": spec.source or "warm-up fit", "nll_nats": None if implicit else 90.0 + i,
            "nll_kind": "none" if implicit else "exact", "agreed_confident_share": 0.5 + i / 50, "n_classes_agreed": 10, "precision": 0.7, "recall": 0.5,
            "samples": pack_samples(data.test_grey[16 * i : 16 * i + 16]),
        }
    path.write_text(json.dumps({"rows": rows}), encoding="utf-8")


@pytest.fixture(scope="module")
def built(data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare")
    _kept_rows(data, folder / "compare.json")

    class SmallCompareAll(CompareAll):
        start_delay_s = 0.0

        def __init__(self, ctx):
            super().__init__(ctx)
            self.compare = CompareViews(ctx, folder / "compare.json")
            self.novelty = NoveltyViews(ctx, cache_path=folder / "novelty.json", models=(MODEL,))

    class SmallTab(CompareTab):
        views_class = SmallCompareAll

    demo, tab = build_tab(SmallTab, data)
    yield demo, tab
    tab.views.join()  # no background thread is left running torch at exit


@pytest.fixture(scope="module")
def tab(built):
    return built[1]


def _pad(stroke: bool = True) -> dict:
    """A Sketchpad value: white RGBA, with a black vertical stroke (a "1") when ``stroke``."""
    pad = np.full((280, 280, 4), 255, np.uint8)
    if stroke:
        pad[50:230, 130:150, :3] = 0
    return {"background": None, "layers": [], "composite": pad}


def test_the_tab_opens_alive_and_its_tour_runs(tab):
    assert tab.card is CARD and tab.tour is TOUR and CARD.tab == PAGES[0] and tab.explain_tab == "cmp-explain"
    assert [t.id for t in tab.subtabs.children] == PAGES
    assert isinstance(tab.table_df.value, dict) and len(tab.table_df.value["data"]) >= 10  # a row per family, from the kept figures
    assert tab.samples_img.value is not None and tab.nll_fig.value is not None and tab.auc_df.value["data"]
    assert tab.table_df.elem_id == "cmp-table" and not tab.table_df.show_label
    tour = tab.tour_panels()
    for step in TOUR:
        if not step.run.startswith("#"):
            panel = tour[step.run]
            values = {id(getattr(tab, name)): value for name, value in step.values.items()}
            if panel is tour["outliers"]:  # the test's novelty views score the Bernoulli mixture only
                values[id(tab.nov_model)] = MODEL
            *out, note = panel.quietly(*[values.get(id(c), c.value) for c in panel.inputs])
            assert note == "" and not any(isinstance(o, SKIP) for o in out), (step.title, note)
    assert tab.thumbnail().dtype == np.uint8


def test_the_refresh_fills_in_what_changed_and_then_stops_polling(tab):
    tab.views.join()
    tokens, *first, timer = tab.refresh(None, MODEL)
    assert set(tokens) == {"table", "novelty", "m1"} and not any(t.startswith(COMPUTING) for t in tokens.values()), tokens
    table, note, samples, nll, auc, auc_note, hist, m1_table, m1_figure, m1_note = first
    assert isinstance(table, pd.DataFrame) and len(table) >= 10 and note and "log p" in auc_note and "±" in m1_table.iloc[0, 1] and samples.dtype == np.uint8 and isinstance(nll, go.Figure)
    assert "0." in " ".join(auc.iloc[0]) and isinstance(hist, go.Figure) and isinstance(m1_figure, go.Figure) and "M1" in m1_note
    assert timer.active is False  # nothing is pending: the browser stops asking
    again = tab.refresh(tokens, MODEL)
    assert again[0] == tokens and all(isinstance(o, SKIP) for o in again[1:-1])


def test_a_drawn_digit_is_scored_and_bad_drawings_are_refused(built):
    demo, tab = built
    tab.views.join()
    picture, table, note = endpoint(demo, "cmp_score_drawing")(_pad())[:3]
    assert picture.dtype == np.uint8 and list(table.columns) == SCORE_HEADERS and "Typicality calls it" in note
    log_p = float(table.iloc[0, 1])
    assert -2000 < log_p < 0 and table.iloc[0, 0] == "Bernoulli mixture" and "%" in table.iloc[0, 2]
    picture, table, *_ = endpoint(demo, "cmp_score_upload")(np.asarray(_pad()["composite"])[..., :3])
    assert float(table.iloc[0, 1]) == pytest.approx(log_p)


def test_before_the_background_work_every_part_says_it_is_computing(data, tmp_path):
    views = CompareAll(Context(torch.device("cpu"), data))
    views.compare = CompareViews(views.ctx, tmp_path / "none.json")  # nothing kept, and not started: every row pending
    progress = views.progress()
    assert progress["table"].startswith(COMPUTING) and progress["m1"] == COMPUTING, progress
    headers, rows, figure, note = views.m1_default()
    assert figure is None and all(row[1] == COMPUTING for row in rows) and COMPUTING in note
    assert all(COMPUTING in row[2] for row in views.compare.table()[1])


def test_few_labels_counts_are_parsed():
    assert parse_counts("100, 10;1000, 10") == (10, 100, 1000) and parse_counts([10, 100.0]) == (10, 100)
    for text, message in [("", "label counts"), ("ten", "whole number"), ("10.5", "whole number"), (",".join(["10"] * 7), "at most")]:
        with pytest.raises(ValueError, match=message):
            parse_counts(text)


BAD = [
    ("cmp_score_drawing", (None,), "nothing is drawn"), ("cmp_score_drawing", (_pad(stroke=False),), "blank|nothing|empty|ink"),
    ("cmp_score_upload", (np.zeros((3, 3)),), "at least"), ("cmp_score_upload", ("/nowhere/at/all.png",), "could not read"),
    ("cmp_outliers", ("the moon", MODEL), "set"), ("cmp_outliers", ("blank", "a crystal ball"), "model"),
    ("cmp_m1", ("banana", 5), "whole number"), ("cmp_m1", ("15", 5), "multiple of 10"), ("cmp_m1", ("10, 100", 0), "seeds"),
    ("cmp_m1", ("10", float("nan")), "seeds"), ("cmp_m1", ("10, 10000000", 5), "multiple of 10|label count"), ("cmp_m1", (None, 5), "label counts"),
]


@pytest.mark.parametrize(("name", "args", "message"), BAD, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(BAD)])
def test_bad_values_through_the_endpoints_are_readable_errors(built, name, args, message):
    check_readable_error(built[0], name, args, message)


def test_an_invalid_field_breaks_only_its_own_panel(tab):
    samples, nll, _, outliers, m1 = tab.panels()  # the drawing panel's default (an empty pad) is itself refused
    assert check_panels_independent([samples, nll, outliers, m1], None) == 4


def test_the_api_names_its_endpoints_with_descriptions(built):
    demo, _ = built
    named = demo.get_api_info()["named_endpoints"]
    for name in ("table", "samples", "nll", "score_drawing", "score_upload", "outliers", "auc", "m1"):
        described = named[f"/cmp_{name}"]
        assert described["description"] and "``" not in described["description"], name
    assert [p["parameter_name"] for p in named["/cmp_m1"]["parameters"]] == ["counts", "seeds"]
    assert [p["parameter_name"] for p in named["/cmp_outliers"]["parameters"]] == ["outlier_set", "model"]
