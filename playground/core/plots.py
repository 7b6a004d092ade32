"""Figure builders: image grids as uint8 arrays, GIF animations and plotly figures. No gradio here."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image
from torch import Tensor
from torchvision.utils import make_grid

from playground.core.checkpoints import new_export_dir

# Ten colours that stay distinct for the ten digits (plotly's D3 palette).
DIGIT_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
_LAYOUT = dict(template="plotly_white", margin=dict(l=50, r=20, t=40, b=40), font=dict(size=13))
# The look of plotly_white spelt out: figures redrawn several times a second skip the template, which plotly deep-copies into every figure that names it.
_PLAIN = dict(margin=_LAYOUT["margin"], font=_LAYOUT["font"], plot_bgcolor="white", paper_bgcolor="white")
# Axes of plotly_white, for the figures built without the template.
PLAIN_AXIS = dict(gridcolor="#ebf0f8", linecolor="#ebf0f8", zeroline=False, ticks="")


def image_grid(images: Tensor, nrow: int = 8, padding: int = 2) -> np.ndarray:
    """Tile images into one picture with ``torchvision.utils.make_grid``.

    Args:
        images: (N, 1, H, W) float in [0, 1] (values outside are clipped), any device.
        nrow: images per row.
        padding: pixels of mid-grey between tiles.

    Returns:
        (rows, cols) uint8 array, 0 = black background, 255 = white ink.
    """
    images = images.detach().float().cpu().clamp(0, 1)
    grid = make_grid(images, nrow=nrow, padding=padding, pad_value=0.35)  # (3, H', W')
    return (grid[0] * 255).round().to(torch.uint8).numpy()


def side_by_side(left: np.ndarray, right: np.ndarray, gap: int = 8) -> np.ndarray:
    """Two uint8 pictures of the same height (grey (H, W) or RGB (H, W, 3), the same kind)
    next to each other, with a dark gap ``gap`` pixels wide."""
    spacer = np.full((left.shape[0], gap, *left.shape[2:]), 40, dtype=np.uint8)
    return np.concatenate([left, spacer, right], axis=1)


def save_animation(frames: Sequence[np.ndarray], name: str, frame_ms: int = 250, scale: int = 2) -> str:
    """Write uint8 image frames (H, W) or (H, W, 3), all the same size, as a looping GIF
    for display and download; returns its path (under the pruned export folder).

    Raises:
        ValueError: no frames, or frames of different sizes.
    """
    if not frames:
        raise ValueError("there are no frames to animate yet")
    if len({f.shape for f in frames}) != 1:
        raise ValueError("animation frames must all have the same size")
    images = [Image.fromarray(f).convert("RGB") for f in frames]
    if scale > 1:
        images = [im.resize((im.width * scale, im.height * scale), Image.NEAREST) for im in images]
    path = new_export_dir() / f"{name}.gif"
    images[0].save(path, save_all=True, append_images=images[1:], duration=frame_ms, loop=0)
    return str(path)

def training_curves(history: Sequence[dict], terms: dict[str, str], title: str = "") -> go.Figure:
    """One panel per loss term, training (solid) and test (dashed) against step.

    Built from plain dicts with explicit axis domains rather than ``make_subplots``:
    the figure is rebuilt several times a second while a model trains, and plotly's
    validation of each ``update_*`` call cost about four times as much.

    Args:
        history: events as dicts with ``step``, ``losses`` and optionally ``test_losses``
            (``{term: value}``).
        terms: ``{key: panel title}`` of the terms to draw, in order.
    """
    n, gap = len(terms), 0.08
    width = (1 - gap * (n - 1)) / n
    data, annotations = [], []
    # The top margin leaves room for the Gradio label that sits over the figure's corner.
    layout: dict = {**_PLAIN, "margin": dict(l=50, r=20, t=60, b=40), "height": 310, "title": title or None, "legend": dict(orientation="h", y=-0.25)}
    for i, key in enumerate(terms):
        axis = "" if i == 0 else str(i + 1)
        for split, dash, colour in (("losses", "solid", "#1f77b4"), ("test_losses", "dash", "#d62728")):
            points = [(h["step"], h[split][key]) for h in history if h.get(split) and key in h[split]]
            if not points:
                continue
            steps, values = zip(*points)
            data.append(
                dict(
                    type="scatter", x=steps, y=values, mode="lines+markers" if len(points) < 3 else "lines",
                    name="train" if split == "losses" else "test", line=dict(dash=dash, color=colour),
                    legendgroup=split, showlegend=i == 0, xaxis=f"x{axis}", yaxis=f"y{axis}",
                )
            )
        left = i * (width + gap)
        layout[f"xaxis{axis}"] = dict(domain=[left, left + width], anchor=f"y{axis}", title=dict(text="step"), **PLAIN_AXIS)
        layout[f"yaxis{axis}"] = dict(anchor=f"x{axis}", **PLAIN_AXIS)
        annotations.append(
            dict(text=terms[key], x=left + width / 2, y=1.0, xref="paper", yref="paper", showarrow=False, yanchor="bottom", font=dict(size=15))
        )
    layout["annotations"] = annotations
    return go.Figure(dict(data=data, layout=layout))


def curves_together(history: Sequence[dict], terms: dict[str, str], reference: tuple[float, str] | None = None, y_title: str = "") -> go.Figure:
    """Terms that share a scale in one panel against step, named in the legend (no panel
    titles to collide): each term its own colour, training solid and test dashed (the
    test curve shares its term's legend entry, and the y axis's title says "dashed: test").

    Args:
        history: as for ``training_curves``.
        terms: ``{key: legend name}`` of the terms to draw, in order.
        reference: (y, name) of a dotted horizontal line (e.g. D's ½, where it cannot tell).
    """
    data = []
    for i, (key, name) in enumerate(terms.items()):
        colour = DIGIT_COLOURS[i % len(DIGIT_COLOURS)]
        for split, dash in (("losses", "solid"), ("test_losses", "dash")):
            points = [(h["step"], h[split][key]) for h in history if h.get(split) and key in h[split]]
            if points:
                steps, values = zip(*points)
                mode, shown = "lines+markers" if len(points) < 3 else "lines", split == "losses"
                data.append(dict(type="scatter", x=steps, y=values, mode=mode, line=dict(dash=dash, color=colour), name=name if shown else f"{name} (test)", legendgroup=key, showlegend=shown))
    if reference is not None and history:
        steps = [h["step"] for h in history]
        data.append(dict(type="scatter", x=[min(steps), max(steps)], y=[reference[0]] * 2, mode="lines", name=reference[1], line=dict(dash="dot", color="#888")))
    layout = {
        **_PLAIN, "margin": dict(l=55, r=20, t=50, b=45), "height": 310, "legend": dict(orientation="h", x=0, y=1.02, yanchor="bottom"),
        "xaxis": dict(title=dict(text="step"), **PLAIN_AXIS), "yaxis": dict(title=dict(text=f"{y_title} (dashed: test)"), **PLAIN_AXIS),
    }
    return go.Figure(dict(data=data, layout=layout))


def latent_scatter(points: np.ndarray, labels: np.ndarray, axis_titles: tuple[str, str], marker: tuple[float, float] | None = None) -> go.Figure:
    """Scatter of 2D latent codes coloured by digit, with an optional chosen point.

    Each digit's trace carries the row indices of its points as ``customdata``, so a
    click on a point says which row it is.

    Args:
        points: (N, 2) float coordinates.
        labels: (N,) int digits in [0, 9].
        marker: (x, y) of the chosen point, drawn as a black cross.
    """
    fig = go.Figure()
    for digit in range(10):
        sel = labels == digit
        fig.add_trace(
            go.Scatter(
                x=points[sel, 0], y=points[sel, 1], mode="markers", name=str(digit), customdata=np.flatnonzero(sel),
                marker=dict(size=7, color=DIGIT_COLOURS[digit], opacity=0.8),
                hovertemplate=f"digit {digit}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>",
            )
        )
    if marker is not None:
        fig.add_trace(
            go.Scatter(
                x=[marker[0]], y=[marker[1]], mode="markers", name="chosen",
                marker=dict(symbol="x-thin", size=18, line=dict(width=4, color="black")), hoverinfo="skip",
            )
        )
    fig.update_layout(
        **_LAYOUT, height=460, xaxis_title=axis_titles[0], yaxis_title=axis_titles[1],
        legend=dict(title="digit"), clickmode="event", dragmode="pan",
    )
    return fig


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str, y_title: str, highlight: int | None = 0) -> go.Figure:
    """Bars with their values printed on them; bar ``highlight`` (an index, or None) in
    green, the others grey."""
    colours = ["#2ca02c" if i == highlight else "#7f7f7f" for i in range(len(values))]
    fig = go.Figure(go.Bar(x=list(labels), y=list(values), marker_color=colours, text=[f"{v:.0f}" for v in values], textposition="auto", cliponaxis=False))  # a label above a short bar stays whole
    fig.update_layout(**{**_LAYOUT, "margin": dict(l=70, r=20, t=60, b=90)}, height=360, title=title, yaxis_title=y_title)
    return fig


def histogram(values: np.ndarray, title: str, x_title: str, y_title: str = "count", bins: int = 30) -> go.Figure:
    """A histogram of ``values`` (N,) float."""
    fig = go.Figure(go.Histogram(x=np.asarray(values, dtype=float), nbinsx=bins, marker_color=DIGIT_COLOURS[0]))
    fig.update_layout(**_LAYOUT, height=300, title=title, xaxis_title=x_title, yaxis_title=y_title)
    return fig


def waveform_figure(wave: np.ndarray, rate: int, title: str = "", marks: Sequence[tuple[float, str]] = (), max_points: int = 4000) -> go.Figure:
    """A waveform (T,) in [-1, 1] against time in seconds. Long clips are drawn as the
    min/max envelope of ``max_points / 2`` bins, so every peak stays visible.

    Args:
        rate: sample rate in Hz.
        marks: (time in s, text) of vertical lines, e.g. where priming ends.
    """
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    t = np.arange(len(wave)) / rate
    if len(wave) > max_points:
        bins = max_points // 2
        edges = np.linspace(0, len(wave), bins + 1).astype(int)
        lo = np.minimum.reduceat(wave, edges[:-1])
        hi = np.maximum.reduceat(wave, edges[:-1])
        t = np.repeat(t[edges[:-1]], 2)
        wave = np.stack([lo, hi], 1).reshape(-1)
    fig = go.Figure(go.Scatter(x=t, y=wave, mode="lines", line=dict(width=1, color=DIGIT_COLOURS[0]), hoverinfo="skip"))
    for x, text in marks:
        fig.add_vline(x=x, line=dict(color="#d62728", dash="dash"), annotation_text=text, annotation_position="top left")
    fig.update_layout(
        **{**_PLAIN, "margin": dict(l=50, r=20, t=50, b=40)}, height=240, title=title or None,
        xaxis=dict(title="time (s)", **PLAIN_AXIS), yaxis=dict(title="amplitude", range=[-1.05, 1.05], **PLAIN_AXIS),
    )
    return fig


def spectrogram_figure(wave: np.ndarray, rate: int, title: str = "", n_fft: int = 256) -> go.Figure:
    """The magnitude spectrogram of a waveform (T,) in dB (relative to its loudest cell,
    floored at -80 dB): a Hann-windowed STFT (``torch.stft``) of ``n_fft`` samples with
    a hop of ``n_fft / 4``; time in seconds, frequency in Hz up to rate / 2."""
    x = torch.as_tensor(np.asarray(wave, dtype=np.float32).reshape(-1))
    if len(x) < n_fft:
        x = torch.nn.functional.pad(x, (0, n_fft - len(x)))
    hop = n_fft // 4
    spec = torch.stft(x, n_fft, hop_length=hop, window=torch.hann_window(n_fft), return_complex=True).abs()  # (F, frames)
    db = 20 * torch.log10(spec.clamp_min(1e-10))
    db = (db - db.max()).clamp_min(-80).numpy()
    freqs = np.fft.rfftfreq(n_fft, 1 / rate)
    times = np.arange(db.shape[1]) * hop / rate
    fig = go.Figure(go.Heatmap(z=db, x=times, y=freqs, colorscale="Magma", zmin=-80, zmax=0, colorbar=dict(title="dB"), hovertemplate="%{x:.3f} s<br>%{y:.0f} Hz<br>%{z:.0f} dB<extra></extra>"))
    fig.update_layout(
        **{**_PLAIN, "margin": dict(l=60, r=20, t=50, b=40)}, height=280, title=title or None,
        xaxis=dict(title="time (s)"), yaxis=dict(title="frequency (Hz)"),
    )
    return fig


def mu_law_figure(mu: int = 255) -> go.Figure:
    """Two panels: the mu-law companding curve F(x) = sign(x) ln(1 + mu|x|) / ln(1 + mu)
    beside the identity, and the worst quantisation error |x - Q(x)| of mu-law and of
    linear quantisation to ``mu`` + 1 levels against |x| (log axes)."""
    x = np.linspace(-1, 1, 2001)
    f = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    a = np.logspace(-4, 0, 600)
    half_step = 1.0 / mu  # half of the step 2 / mu between levels, in the quantised domain
    # The worst error at |x| = a: half a step, mapped back through the slope of F^-1.
    mu_err = (1 + mu * a) * ((1 + mu) ** half_step - 1) / mu
    lin_err = np.full_like(a, half_step)
    mu_style = dict(color=DIGIT_COLOURS[0], width=3)
    lin_style = dict(color="#7f7f7f", dash="dash", width=2)
    data = [
        dict(type="scatter", x=x, y=f, name="mu-law", line=mu_style, legendgroup="mu", xaxis="x", yaxis="y"),
        dict(type="scatter", x=x, y=x, name="linear (plain 8-bit PCM)", line=lin_style, legendgroup="lin", xaxis="x", yaxis="y"),
        dict(type="scatter", x=a, y=mu_err, name="mu-law", line=mu_style, legendgroup="mu", showlegend=False, xaxis="x2", yaxis="y2"),
        dict(type="scatter", x=a, y=lin_err, name="linear", line=lin_style, legendgroup="lin", showlegend=False, xaxis="x2", yaxis="y2"),
    ]
    layout = {
        **_PLAIN, "height": 330, "margin": dict(l=60, r=20, t=60, b=50), "legend": dict(orientation="h", y=-0.25),
        "xaxis": dict(domain=[0, 0.44], title=dict(text="input x"), **PLAIN_AXIS),
        "yaxis": dict(title=dict(text="F(x)"), **PLAIN_AXIS),
        "xaxis2": dict(domain=[0.56, 1], type="log", range=[-4, 0], title=dict(text="|x| (log)"), anchor="y2", **PLAIN_AXIS),
        "yaxis2": dict(type="log", title=dict(text="worst quantisation error (log)"), anchor="x2", **PLAIN_AXIS),
        "annotations": [
            dict(text="the companding curve", x=0.22, y=1.02, xref="paper", yref="paper", showarrow=False, yanchor="bottom", font=dict(size=15)),
            dict(text="8-bit quantisation error", x=0.78, y=1.02, xref="paper", yref="paper", showarrow=False, yanchor="bottom", font=dict(size=15)),
            # Annotations on log axes take log10 coordinates.
            dict(text="quiet: mu-law far finer", x=-2.5, y=-3.0, xref="x2", yref="y2", showarrow=False, font=dict(size=12, color=DIGIT_COLOURS[0])),
            dict(text="loud: linear finer", x=-0.6, y=-1.4, xref="x2", yref="y2", showarrow=False, font=dict(size=12, color="#7f7f7f")),
        ],
    }
    return go.Figure(dict(data=data, layout=layout))


def dilation_diagram(dilations: Sequence[int], kernel_size: int = 2, max_steps: int = 64) -> go.Figure:
    """The dilated causal stack as a graph (after WaveNet's Figure 3): one row of nodes
    per layer (the input at the bottom, the output on top), one column per time step, the
    last ``max_steps`` steps. The connections that feed the newest output are drawn
    bold and the nodes it depends on filled; the rest are faint. The input row is
    x_{t-1}, x_{t-2}, ... (the input is shifted by one sample)."""
    dilations = list(dilations)
    n_layers = len(dilations)
    T = max_steps
    # needed[l]: the time steps of layer l (0 = input) that the newest output depends on.
    needed = [set() for _ in range(n_layers + 1)]
    needed[n_layers] = {T - 1}
    for layer in range(n_layers, 0, -1):
        d = dilations[layer - 1]
        needed[layer - 1] = {t - j * d for t in needed[layer] for j in range(kernel_size) if t - j * d >= 0}
    faint_x, faint_y, bold_x, bold_y = [], [], [], []
    for layer in range(1, n_layers + 1):
        d = dilations[layer - 1]
        for t in range(T):
            for j in range(kernel_size):
                s = t - j * d
                if s < 0:
                    continue
                xs, ys = (bold_x, bold_y) if t in needed[layer] else (faint_x, faint_y)
                xs += [s, t, None]
                ys += [layer - 1, layer, None]
    node_x = [t for layer in range(n_layers + 1) for t in range(T)]
    node_y = [layer for layer in range(n_layers + 1) for t in range(T)]
    filled = [t in needed[layer] for layer in range(n_layers + 1) for t in range(T)]
    colours = ["#d62728" if (y == n_layers and f) else (DIGIT_COLOURS[0] if f else "#d9dee8") for y, f in zip(node_y, filled)]
    fig = go.Figure(
        [
            go.Scatter(x=faint_x, y=faint_y, mode="lines", line=dict(color="#e3e7ef", width=1), hoverinfo="skip", showlegend=False),
            go.Scatter(x=bold_x, y=bold_y, mode="lines", line=dict(color=DIGIT_COLOURS[0], width=2), hoverinfo="skip", showlegend=False),
            go.Scatter(x=node_x, y=node_y, mode="markers", marker=dict(size=max(3, min(10, 500 // T)), color=colours), hoverinfo="skip", showlegend=False),
        ]
    )
    labels = ["input"] + [f"dilation {d}" for d in dilations[:-1]] + [f"output (dilation {dilations[-1]})"]
    fig.update_layout(
        **{**_PLAIN, "margin": dict(l=150, r=20, t=30, b=40)}, height=max(260, 34 * (n_layers + 1) + 80),
        xaxis=dict(title="time step (the newest output on the right)", showgrid=False, zeroline=False, tickvals=[0, T - 1], ticktext=[f"t-{T - 1}", "t"]),
        yaxis=dict(tickvals=list(range(n_layers + 1)), ticktext=labels, showgrid=False, zeroline=False, range=[-0.5, n_layers + 0.5]),
    )
    return fig


# --- the 2D GAN lab's figures ----------------------------------------------------------------

REAL_COLOUR = "#1b7837"  # green, as in GAN Lab
FAKE_COLOUR = "#762a83"  # purple
ARROW_COLOUR = "#e08214"
# Purple (fake-looking) through white to green (real-looking), a little washed out so the points on top stay readable.
_SURFACE_SCALE = [[0.0, "#9970ab"], [0.25, "#c2a5cf"], [0.5, "#f7f7f7"], [0.75, "#a6dba0"], [1.0, "#5aae61"]]
# constrain="domain": the square view shrinks to fit the figure instead of widening x.
_SQUARE_AXIS = {"showgrid": False, "zeroline": False, "ticks": "outside", "fixedrange": True, "linecolor": "#888", "mirror": True, "constrain": "domain"}


def f32(values: Tensor | np.ndarray | Sequence[float]) -> np.ndarray:
    """Values (a tensor on any device, an array or a sequence) as float32 numpy: plotly sends it as a base64 typed array, not decimal text."""
    return np.asarray(values.detach().cpu().numpy() if isinstance(values, Tensor) else values, dtype=np.float32)


def enlarge(picture: np.ndarray, scale: int) -> np.ndarray:
    """A picture (H, W) or (H, W, C) enlarged ``scale`` times by pixel repetition (crisp pixels): (H * scale, W * scale[, C]), same dtype."""
    return np.repeat(np.repeat(picture, scale, axis=0), scale, axis=1)


def _arrow_trace(start: Tensor, step: Tensor) -> dict:
    """One trace for every arrow from ``start`` (m, 2) by ``step`` (m, 2): segments
    separated by None, a head at each end."""
    start = start.detach().cpu().double()
    end = start + step.detach().cpu().double()
    xs, ys, sizes = [], [], []
    for (x0, y0), (x1, y1) in zip(np.round(start.numpy(), 3).tolist(), np.round(end.numpy(), 3).tolist()):
        xs += [x0, x1, None]
        ys += [y0, y1, None]
        sizes += [0, 7, 0]
    return {
        "type": "scatter", "x": xs, "y": ys, "mode": "lines+markers", "name": "G's gradient", "hoverinfo": "skip",
        "line": {"color": ARROW_COLOUR, "width": 1.5},
        "marker": {"symbol": "arrow", "angleref": "previous", "size": sizes, "color": ARROW_COLOUR},
    }


def lab_figure(
    surface: Tensor, axis: Tensor, real: Tensor, fake: Tensor, arrows: Tensor | None = None, critic: bool = False, title: str = "",
    *, box: float,
) -> go.Figure:
    """D's view of the plane with both point clouds on it (the 2D GAN lab).

    Args:
        surface: D on the grid ``axis`` x ``axis`` (n, n), row i at y = axis[i]:
            probabilities D(x) in [0, 1], or critic values f(x) when ``critic``.
        axis: (n,) the grid's coordinates, the same on x and y.
        real, fake: real and generated points (n, 2), drawn green and purple.
        arrows: -dL_G/dx at the first len(arrows) generated points (m, 2), already
            scaled to plot units; drawn as orange arrows.
        critic: colour the surface as a critic (centred on 0, symmetric range) instead
            of a probability (centred on 0.5, range [0, 1]).
        box: the view is the square [-box, box]^2, fixed.

    Returns:
        A square plotly figure.
    """
    z = surface.detach().cpu()
    if critic:
        top = max(float(z.abs().max()), 1e-6)
        scale = {"zmin": -top, "zmax": top, "zmid": 0.0}
        bar_title = "critic f(x)"
    else:
        scale = {"zmin": 0.0, "zmax": 1.0}
        bar_title = "D(x)"
    coords = f32(axis)
    data: list[dict] = [
        {
            "type": "heatmap", "x": coords, "y": coords, "z": f32(z),
            "colorscale": _SURFACE_SCALE, **scale, "zsmooth": "fast", "name": bar_title,  # "best" looks the same and costs the browser 1.5 times as long
            "colorbar": {"title": {"text": bar_title, "side": "right"}, "thickness": 14, "len": 0.9},
            "hovertemplate": "(%{x:.2f}, %{y:.2f})<br>" + bar_title + " = %{z:.2f}<extra></extra>",
        },
        {
            "type": "scattergl" if len(real) > 2000 else "scatter", "x": f32(real[:, 0]), "y": f32(real[:, 1]),
            "mode": "markers", "name": "real", "hoverinfo": "skip",
            "marker": {"size": 5, "color": REAL_COLOUR, "opacity": 0.75, "line": {"width": 0.5, "color": "white"}},
        },
        {
            "type": "scatter", "x": f32(fake[:, 0]), "y": f32(fake[:, 1]), "mode": "markers", "name": "generated",
            "hoverinfo": "skip",
            "marker": {"size": 5, "color": FAKE_COLOUR, "opacity": 0.85, "line": {"width": 0.5, "color": "white"}},
        },
    ]
    if arrows is not None and len(arrows):
        data.append(_arrow_trace(fake[: len(arrows)], arrows))
    square = {**_SQUARE_AXIS, "range": [-box, box]}
    layout = {
        # 400 px: with the lab's controls beside it, the plot fits a 1280 x 720 screen.
        "margin": {"l": 45, "r": 10, "t": 40 if title else 20, "b": 40}, "font": {"size": 13}, "height": 400,
        "paper_bgcolor": "white", "plot_bgcolor": "white",
        "title": {"text": title, "x": 0.02, "font": {"size": 14}} if title else None,
        "xaxis": {**square, "title": {"text": "x₁"}},
        "yaxis": {**square, "title": {"text": "x₂"}, "scaleanchor": "x", "scaleratio": 1},
        "legend": {"orientation": "h", "x": 0.0, "y": -0.1, "yanchor": "top"},
        # Keeps the user's zoom and hidden traces across the many updates of a run.
        "uirevision": "gan-lab",
    }
    return go.Figure({"data": data, "layout": layout})


def lab_curves_figure(history: Sequence[dict]) -> go.Figure:
    """Two panels against step (the 2D GAN lab): D's and G's losses, and the JS
    divergence (nats).

    Args:
        history: dicts with ``step`` and any of ``d_loss``, ``g_loss``, ``js`` (floats).
    """
    data = []
    for key, name, colour, axis in (
        ("d_loss", "D loss", "#1f77b4", ""), ("g_loss", "G loss", "#ff7f0e", ""), ("js", "JS(real ‖ generated)", "#2ca02c", "2"),
    ):
        points = [(h["step"], h[key]) for h in history if h.get(key) is not None]
        # Empty traces too: they keep both panels' axes on screen before the first step.
        steps, values = zip(*points) if points else ((), ())
        data.append(
            {
                "type": "scatter", "x": np.asarray(steps, dtype=np.int32), "y": np.asarray(values, dtype=np.float32), "name": name,
                "mode": "lines+markers" if len(points) < 3 else "lines", "line": {"color": colour, "width": 1.5},
                "xaxis": f"x{axis}", "yaxis": f"y{axis}",
            }
        )
    layout = {
        "margin": {"l": 50, "r": 10, "t": 50, "b": 40}, "font": {"size": 12}, "height": 260,
        "paper_bgcolor": "white", "plot_bgcolor": "white",
        "xaxis": {**PLAIN_AXIS, "domain": [0, 0.45], "title": {"text": "step"}},
        "yaxis": {**PLAIN_AXIS, "title": {"text": "loss (nats)"}},
        "xaxis2": {**PLAIN_AXIS, "domain": [0.58, 1], "anchor": "y2", "title": {"text": "step"}},
        "yaxis2": {**PLAIN_AXIS, "anchor": "x2", "title": {"text": "JS (nats)"}, "rangemode": "tozero"},
        # Right-aligned above the panels: Gradio's label covers the top-left corner.
        "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.03, "yanchor": "bottom"},
    }
    return go.Figure({"data": data, "layout": layout})
