"""The WaveNet tab's two lessons that need no trained model: mu-law against linear 8-bit
quantisation (heard and measured), and the dilated causal stack drawn with its receptive
field, checked by a gradient probe.

The mu-law is ITU-T G.711's companding, as WaveNet uses it (van den Oord et al. 2016,
"WaveNet: A Generative Model for Raw Audio", arXiv:1609.03499, section 2.2); the
dilated stack is the paper's Fig. 3. No gradio here: ``playground.views.wavenet`` offers
both to the tab, which reads these limits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from models.checks import SEED_MAX, Range, check_int
from models.wavenet import MAX_DILATION, MAX_LAYERS, MAX_SAMPLE_RATE_HZ, measured_receptive_field, receptive_field
from playground.core import checkpoints, plots
from playground.core.audio import CLASS_NAMES, SAMPLE_RATE_HZ, quantise_at_level, read_audio, synth_clip, to_wav

# Mu-law.
LEVEL_DB = Range(-60.0, 0.0, -30.0, integer=False)  # the clip's peak, dBFS
MU_LAW_CLIP_S = 1.0  # two synthetic clips of this length
MAX_MU_LAW_UPLOAD_S = 10.0
# The receptive-field diagram.
FIELD_LAYERS = Range(1, 12, 6)
FIELD_STACKS = Range(1, 4, 1)
KERNEL = Range(2, 3, 2)
RATE = Range(1000, MAX_SAMPLE_RATE_HZ, SAMPLE_RATE_HZ)
RATES = (8000, 16000, 24000)  # offered by the UI
MAX_SHOWN_STEPS = 64
# The diagram's height: the bundled depth (10 layers) fits a 1280 x 720 screen beside its
# controls; deeper stacks grow (at least ROW_PX a layer) rather than squash their rows.
DIAGRAM_PX = 340
ROW_PX = 14


def mu_law_comparison(label: Any = "0", path: Any = None, level_db: Any = LEVEL_DB.default, seed: Any = 0) -> tuple[str, str, str, str]:
    """One clip (two 1 s synthetic clips of class ``label`` in [0, 9] drawn with
    ``seed`` in [0, 2^31), or the uploaded ``path``, its first 10 s), scaled to a peak of
    ``level_db`` dBFS in [-60, 0], quantised to 8 bits linearly and by mu-law; both are
    scaled back up by the same gain, so that they play as loud as the original and the
    quantisation noise is heard as it is.

    Returns:
        (original WAV, linear 8-bit WAV, mu-law 8-bit WAV (paths, 8 kHz), markdown with
        the SNRs and the levels used).

    Raises:
        ValueError: a value out of range, or a clip that cannot be read.
    """
    level_db = LEVEL_DB.check("level (dBFS)", level_db)
    seed = check_int("seed", seed, 0, SEED_MAX)
    notes: list[str] = []
    if path:
        clip = read_audio(str(path), SAMPLE_RATE_HZ, max_seconds=MAX_MU_LAW_UPLOAD_S)
        wave, notes, what = clip.wave, list(clip.notes), "your clip"
    else:
        label = check_int("class", label, 0, len(CLASS_NAMES) - 1)
        rng = np.random.default_rng(seed)
        wave = np.concatenate([synth_clip(label, rng, seconds=MU_LAW_CLIP_S) for _ in range(2)])
        what = f"a synthetic {CLASS_NAMES[label]}"
    q = quantise_at_level(wave, level_db)
    folder = checkpoints.new_export_dir()
    paths = [to_wav(np.clip(w, -1, 1), SAMPLE_RATE_HZ, folder / f"mulaw-{k}.wav") for k, w in q.waves.items()]
    text = (
        f"{what}, played at a peak of {level_db:g} dBFS and quantised to 256 levels. Signal-to-noise ratio: "
        f"linear 8-bit **{q.snr_db['linear']:.1f} dB** ({q.levels_used['linear']} levels used), "
        f"mu-law 8-bit **{q.snr_db['mu']:.1f} dB** ({q.levels_used['mu']} levels used). "
        f"Quiet sounds fall between linear levels; mu-law spends its levels near silence. Lower the level to hear it."
    )
    if notes:
        text += f" ({'; '.join(notes)})"
    return *paths, text


def dilation_text(dilations: list[int]) -> str:
    """e.g. "1, 2, …, 512 × 2" for repeated doubling cycles, else the list (12 at most)."""
    n = len(dilations)
    for period in range(1, n + 1):
        cycle = dilations[:period]
        if n % period == 0 and cycle * (n // period) == dilations and cycle == [2**i for i in range(period)]:
            text = f"1, 2, …, {cycle[-1]}" if period > 2 else ", ".join(map(str, cycle))
            return text + (f" × {n // period}" if n // period > 1 else "")
    return ", ".join(map(str, dilations[:12])) + (" …" if n > 12 else "")


def parse_dilations(text: Any) -> list[int]:
    """Dilations from text such as "1, 3, 9, 27" ([] for empty text).

    Raises:
        ValueError: not integers in [1, 4096], or more than 64 of them.
    """
    if text is None or not str(text).strip():
        return []
    parts = str(text)[:1000].replace(",", " ").split()
    if len(parts) > MAX_LAYERS:
        raise ValueError(f"give at most {MAX_LAYERS} dilations, got {len(parts)}")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"dilations must be whole numbers separated by commas, got {str(text)[:60]!r}") from None
    return [check_int("dilation", v, 1, MAX_DILATION) for v in values]


def stack_diagram(
    layers: Any = FIELD_LAYERS.default, stacks: Any = FIELD_STACKS.default, kernel_size: Any = KERNEL.default,
    rate: Any = RATE.default, custom: Any = "",
) -> tuple[go.Figure, str]:
    """The dilated stack of ``stacks`` in [1, 4] cycles of ``layers`` in [1, 12] layers
    (dilations 1, 2, ..., 2^(layers-1)), or of the ``custom`` dilations when that text is
    not empty (integers in [1, 4096] separated by commas or spaces, at most 64, e.g.
    "1, 3, 9, 27"), ``kernel_size`` in [2, 3] taps, at ``rate`` in [1000, 48000] Hz.

    Returns:
        (diagram figure of the last steps, at most 340 px tall up to 17 layers, then 14 px
        a layer; markdown: the receptive field in samples and ms
        by the formula and by the gradient probe ``measured_receptive_field``, and against
        the same depth without dilation).

    Raises:
        ValueError: a value out of range or unreadable dilations.
    """
    layers = FIELD_LAYERS.check("layers per stack", layers)
    stacks = FIELD_STACKS.check("stacks", stacks)
    kernel_size = KERNEL.check("kernel size", kernel_size)
    rate = RATE.check("sample rate", rate)
    dilations = parse_dilations(custom) or [2**i for i in range(layers)] * stacks
    field = receptive_field(dilations, kernel_size)
    probe = measured_receptive_field(dilations, kernel_size)
    plain = receptive_field([1] * len(dilations), kernel_size)
    shown = min(MAX_SHOWN_STEPS, field + 8)
    text = (
        f"**{len(dilations)} layers**, dilations {dilation_text(dilations)}, {kernel_size} taps: each output sees "
        f"**{field:,} samples = {1000 * field / rate:.1f} ms** at {rate / 1000:g} kHz "
        f"(1 + {kernel_size - 1} × the sum of the dilations). A gradient probe of a random network with this stack finds "
        f"**{probe:,}** inputs of non-zero influence {'✓' if probe == field else '✗'}. Without dilation the same "
        f"{len(dilations)} layers would see {plain} samples ({1000 * plain / rate:.1f} ms). "
        f"The diagram shows the last {shown} time steps; bold: what the newest output (red) depends on."
    )
    figure = plots.dilation_diagram(dilations, kernel_size, max_steps=shown)
    figure.update_layout(height=min(figure.layout.height, max(DIAGRAM_PX, ROW_PX * (len(dilations) + 1) + 80)))
    return figure, text
