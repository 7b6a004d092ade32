"""The warm-up tab's layer of gradio: its pages open alive, the tour's steps run, panels
redraw independently, EM's buttons and run (with Stop) go through the bound handlers, one
session's mixture is not another's, and bad values through the endpoints (as gradio_client
sends them: NaN, strings, None, huge numbers, junk CSV) are readable errors."""

from __future__ import annotations

import time

import gradio as gr
import numpy as np
import plotly.graph_objects as go
import pytest
from panels import SKIP, blocks_in, build_tab, check_panels_independent, check_readable_error, endpoint, session_request

from playground.ui.tabs.warmup import CARD, TOUR, WarmupTab

PAGES = ["wu-boxmuller", "wu-mle", "wu-gmm", "wu-ppca", "wu-bmm", "wu-aevae", "wu-explain"]
RING_TEXT = "\n".join(f"{np.cos(a):.3f},{np.sin(a):.3f}" for a in np.linspace(0, 6, 40))


@pytest.fixture(scope="module")
def built(data):
    return build_tab(WarmupTab, data)


@pytest.fixture(scope="module")
def tab(built):
    return built[1]


def _buttons(tab):
    """What each tour step's button runs, and the controls it reads."""
    return {
        "#wu-bm-run": (lambda *a: list(tab.box_muller(*a))[-1], ["bm_n", "bm_seed"]),
        "#wu-mle-fit": (lambda *a: tab.mle_fit(None), []),
    }


def test_the_tab_opens_alive_and_every_tour_step_runs_with_its_values(built):
    demo, tab = built
    assert tab.card is CARD and tab.tour is TOUR and CARD.tab == PAGES[0] and tab.explain_tab == "wu-explain"
    pages = {t.id: t for t in tab.subtabs.children}
    assert list(pages) == PAGES
    assert tab.bm_plot in list(blocks_in(pages["wu-boxmuller"])) and tab.bm_plot.elem_id == "wu-bm-plot"
    shown = [
        tab.bm_plot, tab.m_data_plot, tab.m_surface, tab.g_plot, tab.g_curve, tab.ppca_components, tab.ppca_variance, tab.ppca_image, tab.ppca_samples_img,
        tab.bmm_means, tab.bmm_curve, tab.bmm_samples_img, tab.aevae_scatter, tab.aevae_ae, tab.aevae_vae, tab.aevae_lerp,
    ]
    assert all(c.value is not None for c in shown)  # alive on open
    elem_ids = {getattr(b, "elem_id", None) for b in demo.blocks.values()}
    panels, buttons = tab.tour_panels(), _buttons(tab)
    assert 3 <= len(TOUR) <= 5 and {f"wu-tour-{i}" for i in range(1, len(TOUR) + 1)} <= elem_ids
    for step in TOUR:
        assert step.tab in pages and 0 < len(step.title) <= 32, step
        if step.run.startswith("#"):
            handler, names = buttons[step.run]
            assert step.run[1:] in elem_ids and set(step.values) <= set(names), step
            values = {name: getattr(tab, name).value for name in names} | step.values
            out = handler(*(values[name] for name in names))
        else:
            panel = panels[step.run]
            controls = {id(getattr(tab, name)): value for name, value in step.values.items()}
            assert set(controls) <= {id(c) for c in panel.inputs}, step
            *out, note = panel.quietly(*[None if isinstance(c, gr.State) else controls.get(id(c), c.value) for c in panel.inputs])
            assert note == "", (step.title, note)
        assert not any(isinstance(o, SKIP) for o in out), step.title


def test_an_invalid_field_breaks_only_its_own_panel(tab):
    bm, mle, gmm, _ = tab.panels()
    decode = tab.digit_panels()[1]
    assert check_panels_independent([bm, mle, gmm, decode], None) >= 17


def test_em_steps_raise_the_log_likelihood_and_sessions_are_separate(built):
    demo, tab = built
    reset, e_step, m_step = endpoint(demo, "wu_gmm_reset"), endpoint(demo, "wu_gmm_e"), endpoint(demo, "wu_gmm_m")
    alice, *first = reset(None, "ring", 8, "full", "random", 3)
    bob, *_ = reset(None, "grid", 2, "spherical", "k-means++", 0)
    assert all(isinstance(f, go.Figure) for f in first[:2]) and isinstance(first[2], str)
    notes = []
    for _ in range(3):
        notes.append(e_step(alice)[3])
        notes.append(m_step(alice)[3])
    bob_note = m_step(bob)[3]
    curve = m_step(alice)[2]
    ll = np.asarray(next(t for t in curve.data if t.name.startswith("log-likelihood")).y, dtype=float)
    assert len(ll) >= 4 and np.all(np.diff(ll) >= -1e-9), ll  # EM never lowers it, as the curve shows
    assert notes[-1] != bob_note and alice is not bob
    again, *_ = reset(None, "ring", 8, "full", "random", 3)
    assert e_step(again)[3] == notes[0]  # Bob's steps left Alice's seeded run as it was


def test_em_run_streams_and_stop_answers_within_a_second(built):
    demo, tab = built
    run, stop = endpoint(demo, "wu_gmm_run"), endpoint(demo, "wu_gmm_stop")
    session = endpoint(demo, "wu_gmm_reset")(None, "grid", 10, "full", "random", 1)[0]
    frames = list(run(session, 3, session_request("em")))
    assert frames[0][0] is session and isinstance(frames[-1][1], go.Figure) and "3 iterations" in frames[-1][3]
    stream = run(session, 200, session_request("em"))
    next(stream)
    assert stop(session_request("em")) == "Stopping…"
    start = time.perf_counter()
    list(stream)
    assert time.perf_counter() - start < 1.0
    assert stop(session_request("em")) == "Nothing is training."


def test_user_points_one_point_and_identical_points(built, tmp_path):
    demo, _ = built
    pad = np.full((64, 64, 4), 255, np.uint8)
    pad[10:30, 20:50, :3] = 0  # a black stroke
    session, source, figure, curve, status, _ = endpoint(demo, "wu_gmm_draw")(None, {"composite": pad, "layers": []}, 2, "diag", "random", 0)
    assert source == "drawn" and "K = 2" in status
    (tmp_path / "points.csv").write_text("x,y\n" + RING_TEXT)
    assert endpoint(demo, "wu_mle_load_csv")(session, str(tmp_path / "points.csv"), "1-D", 200, 0, 0, 1, 0, 1, 0)[1] == "csv"
    paste = endpoint(demo, "wu_mle_paste_csv")
    session, source, data_fig, surface, note, panel_note = paste(None, RING_TEXT, "2-D", 200, 0, 0, 1, 0, 1, 0)
    assert source == "csv" and isinstance(data_fig, go.Figure) and "nats" in note and panel_note == ""
    *_, note, _ = paste(None, "x,y\n1,1\n1,2\n1,3", "1-D", 200, 0, 0, 1, 0, 1, 0)  # no spread in x: σ would be 0
    assert "Regularised" in note
    *_, note, _ = paste(None, "x,y\n1,1\n1,1\n1,1", "2-D", 200, 0, 0, 1, 0, 1, 0)  # identical points: a singular covariance
    assert "Regularised" in note and "identical" in note
    with pytest.raises(gr.Error, match="at least 2 points"):
        paste(None, "2,3", "2-D", 200, 0, 0, 1, 0, 1, 0)
    session, source, *_ = endpoint(demo, "wu_gmm_paste_csv")(None, "1,2\n3,4\n5,1", 2, "full", "k-means++", 0)
    assert source == "csv"
    with pytest.raises(gr.Error, match="K"):
        endpoint(demo, "wu_gmm_reset")(session, "csv", 5, "full", "k-means++", 0)  # K larger than the 3 points


BAD = [
    ("wu_box_muller_final", (float("nan"), 0), "point"), ("wu_box_muller_final", ("many", 0), "point"), ("wu_box_muller_final", (10**9, 0), "point"),
    ("wu_box_muller_final", (2000, None), "seed"), ("wu_mle", (None, float("nan"), 1, 0, 1, 0), "μ|mu|mean"),
    ("wu_mle", (None, 0, -1, 0, 1, 0), "σ|sigma|standard"), ("wu_mle", (None, 0, 1, 0, 1, 2), "ρ|rho|correlation"),
    ("wu_mle_data", (None, "nowhere", "1-D", 200, 0, 0, 1, 0, 1, 0), "source|data"), ("wu_mle_data", (None, "gaussian", "3-D", 200, 0, 0, 1, 0, 1, 0), "dim"),
    ("wu_mle_data", (None, "drawn", "2-D", 200, 0, 0, 1, 0, 1, 0), "draw"), ("wu_mle_paste_csv", (None, "a,b\nx,y\nbanana,1", "2-D", 200, 0, 0, 1, 0, 1, 0), "numer|number|CSV"),
    ("wu_mle_paste_csv", (None, "1,nan\n2,3", "2-D", 200, 0, 0, 1, 0, 1, 0), "NaN|finite|number"), ("wu_mle_paste_csv", (None, None, "1-D", 200, 0, 0, 1, 0, 1, 0), "CSV|point|text"),
    ("wu_gmm_reset", (None, "ring", 10**6, "full", "k-means++", 0), "K"), ("wu_gmm_reset", (None, "ring", float("nan"), "full", "k-means++", 0), "K"),
    ("wu_gmm_reset", (None, "ring", 3, "triangular", "k-means++", 0), "covariance"), ("wu_gmm_reset", (None, "ring", 3, "full", "psychic", 0), "init"),
    ("wu_gmm_reset", (None, "csv", 3, "full", "k-means++", 0), "CSV|csv|points"), ("wu_gmm_restarts", (None, 0), "restart"),
    ("wu_gmm_bic", (None, 10**6), "K"), ("wu_gmm_draw", (None, {"composite": np.full((64, 64, 4), 255, np.uint8), "layers": []}, 3, "full", "k-means++", 0), "draw"),
    ("wu_ppca", (0,), "K"), ("wu_ppca", ("sixteen",), "K"), ("wu_ppca", (10**6,), "K"), ("wu_ppca_decode", (16, "ML", float("nan"), 0, 0, 0, 0, 0), "z"), ("wu_ppca", (16, "tiny", 0), "σ²"),
    ("wu_ppca_samples", (16, -5), "seed"), ("wu_aevae_interpolate", (None, -1, 3), "digit|index|a"), ("wu_bmm_samples", (None, float("inf")), "seed"),
]


@pytest.mark.parametrize(("name", "args", "message"), BAD, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(BAD)])
def test_bad_values_through_the_endpoints_are_readable_errors(built, name, args, message):
    check_readable_error(built[0], name, args, message)


def test_the_streams_refuse_bad_values_before_anything_is_shown(built):
    demo, _ = built
    for name, args, message in [
        ("wu_box_muller", (float("nan"), 0), "point"), ("wu_gmm_run", (None, 10**9, session_request("bad")), "iteration|step"),
        ("wu_bmm_fit", (None, 5, 30, 0, session_request("bad")), "K"), ("wu_bmm_fit", (None, 20, "many", 0, session_request("bad")), "iteration"),
        ("wu_aevae_train", (None, 10**9, 0, session_request("bad")), "step"),
    ]:
        with pytest.raises(gr.Error, match=message):
            next(endpoint(demo, name)(*args))


def test_the_mixture_fit_and_the_pair_training_stream_and_stop(built):
    demo, _ = built
    fit = endpoint(demo, "wu_bmm_fit")(None, 10, 3, 0, session_request("bmm"))
    session, *first = next(fit)
    frames = list(fit)
    assert "nats" in frames[-1][-1] and isinstance(frames[-1][2], go.Figure)
    assert endpoint(demo, "wu_bmm_samples")(session, 0)[0].dtype == np.uint8
    train, stop = endpoint(demo, "wu_aevae_train"), endpoint(demo, "wu_aevae_stop")
    run = train(None, 3000, 0, session_request("pair"))
    next(run)
    assert stop(session_request("pair")) == "Stopping…"
    start = time.perf_counter()
    last = list(run)[-1]
    assert time.perf_counter() - start < 1.5 and "stopped" in last[1].lower()


def test_the_api_names_its_endpoints_with_descriptions(built):
    demo, _ = built
    named = demo.get_api_info()["named_endpoints"]
    names = [
        "box_muller", "box_muller_final", "mle", "mle_data", "mle_fit", "mle_draw", "mle_load_csv", "mle_paste_csv", "gmm_reset", "gmm_e", "gmm_m",
        "gmm_run", "gmm_stop", "gmm_restarts", "gmm_bic", "gmm_draw", "gmm_load_csv", "gmm_paste_csv", "ppca", "ppca_decode", "ppca_samples",
        "bmm_fit", "bmm_stop", "bmm_samples", "aevae_grids", "aevae_interpolate", "aevae_train", "aevae_stop",
    ]
    for name in names:
        described = named[f"/wu_{name}"]
        assert described["description"] and "``" not in described["description"], name
    assert [p["parameter_name"] for p in named["/wu_ppca_decode"]["parameters"]] == ["k", "sigma2", "z1", "z2", "z3", "z4", "z5", "z6"]
    assert [p["parameter_name"] for p in named["/wu_mle_paste_csv"]["parameters"]][:2] == ["state_value", "text"] or "text" in str(named["/wu_mle_paste_csv"])
