"""Figure builders: image grids as uint8 arrays and plotly figures. No gradio here."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from torch import Tensor
from torchvision.utils import make_grid

# Ten colours that stay distinct for the ten digits (plotly's D3 palette).
DIGIT_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
_LAYOUT = dict(template="plotly_white", margin=dict(l=50, r=20, t=40, b=40), font=dict(size=13))
# The look of plotly_white spelt out: figures redrawn several times a second skip the
# template, which plotly deep-copies into every figure that names it.
_PLAIN = dict(margin=_LAYOUT["margin"], font=_LAYOUT["font"], plot_bgcolor="white", paper_bgcolor="white")
# Axes of plotly_white, for the figures built without the template (here and in toy2d).
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
    fig = go.Figure(go.Bar(x=list(labels), y=list(values), marker_color=colours, text=[f"{v:.0f}" for v in values], textposition="auto"))
    fig.update_layout(**{**_LAYOUT, "margin": dict(l=70, r=20, t=60, b=90)}, height=360, title=title, yaxis_title=y_title)
    return fig


def histogram(values: np.ndarray, title: str, x_title: str, y_title: str = "count", bins: int = 30) -> go.Figure:
    """A histogram of ``values`` (N,) float."""
    fig = go.Figure(go.Histogram(x=np.asarray(values, dtype=float), nbinsx=bins, marker_color=DIGIT_COLOURS[0]))
    fig.update_layout(**_LAYOUT, height=300, title=title, xaxis_title=x_title, yaxis_title=y_title)
    return fig
