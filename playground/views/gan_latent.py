"""The GAN's latent-space views: the numbered pool of samples, interpolation, the latent
walk and vector arithmetic (Radford, Metz & Chintala 2015, "Unsupervised Representation
Learning with Deep Convolutional Generative Adversarial Networks", arXiv:1511.06434,
Fig. 7: thick 7 − thin 7 + thin 1 = thick 1, each concept the mean of a few latents).

``LatentPanels`` is mixed into ``playground.views.gan.GanViews``: its methods take the
session (or None) and a panel's settings, like the other views. No gradio here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from models.checks import SEED_MAX, Range, check_int
from models.gan import label_blends
from playground.core.attributes import measure_traits, slerp
from playground.core.metrics import classify
from playground.core.plots import image_grid, save_animation

if TYPE_CHECKING:
    from playground.views.gan import GanSession, GanView

POOL_SIZE = 60  # 6 rows of 10; a conditional model's column c is digit c
POOL_COLUMNS = 10
INTERPOLATION_STEPS = Range(3, 20, 10)
DEFAULT_INTERPOLATION = (17, 10)  # in pool 0 of the bundled gan: a 1 that passes through a 7 into a 0
WALK_FRAMES = 40
MAX_SLOT = 8
NEIGHBOUR_NOISE = 0.25
PRESET = ("7", "7", "1")  # the digits of slots A, B, C in the worked example
PRESET_TRIES = 50  # pools the preset searches for an unconditional model
OPERATOR_COLOUR = (255, 196, 61)  # amber: drawn signs, not ink a model drew
OPERATOR_WIDTH = 16  # pixels between two 32-pixel tiles
PADDING_GREY = round(0.35 * 255)  # image_grid's


def check_digit(name: str, value: Any) -> int:
    """A digit 0-9, as an int or its text (the UI's radios and dropdowns give "7").

    Raises:
        ValueError: anything else (the message names ``name``).
    """
    return check_int(name, int(value) if isinstance(value, str) and value.strip().isdigit() else value, 0, 9)


def parse_slot(name: str, text: Any) -> list[int]:
    """Pool sample numbers like "3, 7, 12" (commas, semicolons or spaces; 1 to 8 of them,
    each in [0, 59]).

    Raises:
        ValueError: an empty slot, too many numbers, or one that is not a sample number.
    """
    parts = [p for p in str(text if text is not None else "").replace(";", ",").replace(" ", ",").split(",") if p]
    if not parts:
        raise ValueError(f"slot {name} is empty: click samples in the grid (or type their numbers, e.g. 3, 7)")
    if len(parts) > MAX_SLOT:
        raise ValueError(f"slot {name} averages at most {MAX_SLOT} samples, got {len(parts)}")
    out = []
    for p in parts:
        try:
            out.append(check_int(f"slot {name}", int(p), 0, POOL_SIZE - 1))
        except ValueError:
            raise ValueError(f"slot {name}: {p!r} is not a sample number in [0, {POOL_SIZE - 1}]") from None
    return out


def _equation(view: GanView, seed: int, slots: list[list[int]], labels: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Vector arithmetic on the pool of ``seed``: the means of slots A, B, C (lists of
    pool numbers) and A − B + C, decoded (with ``labels`` (4,) by a conditional model).

    Returns:
        (A − B + C, a latent (D,); the 4 images (4, 1, 28, 28) in [0, 1]; the
        classifier's probabilities (4, 10); stroke thickness in pixels (4,)).
    """
    z, _ = view.pool(seed)
    means = torch.stack([z[idx].mean(0) for idx in slots])  # (3, D)
    result = means[0] - means[1] + means[2]
    images = view.generate(torch.cat([means, result[None]]), labels)
    return result, images, classify(images)[0], measure_traits(images)["thickness_px"]


def _preset_slots(view: GanView, seed: int) -> tuple[list[int], list[int], list[int]] | None:
    """Slots A, B, C for the preset from the pool of ``seed``: the thickest 7s, the
    thinnest 7s and the thinnest 1s (up to three each); None if an unconditional model's
    pool lacks two clear 7s and a clear 1."""
    z, _ = view.pool(seed)
    if view.conditional:  # any latent drawn as a 7 or as a 1
        thick7 = measure_traits(view.generate(z, torch.full((POOL_SIZE,), 7)))["thickness_px"]
        order7 = torch.argsort(thick7, descending=True).tolist()
        a, b = order7[:3], order7[-3:]
        thick1 = measure_traits(view.generate(z, torch.full((POOL_SIZE,), 1)))["thickness_px"]
        return a, b, [i for i in torch.argsort(thick1).tolist() if i not in a + b][:3]
    images = view.generate(z)
    conf, pred = classify(images)[0].max(1)
    thick = measure_traits(images)["thickness_px"]
    sevens = sorted((i for i in range(POOL_SIZE) if pred[i] == 7 and conf[i] >= 0.5), key=lambda i: -float(thick[i]))
    ones = sorted((i for i in range(POOL_SIZE) if pred[i] == 1 and conf[i] >= 0.5), key=lambda i: float(thick[i]))
    if len(sevens) < 2 or not ones:
        return None
    half = max(1, min(3, len(sevens) // 2))
    return sevens[:half], sevens[-half:], ones[:3]


def _reads_as_thick_1(view: GanView, seed: int, slots: tuple[list[int], list[int], list[int]]) -> bool:
    """Whether an unconditional model's slot means read as 7, 7, 1 and their A − B + C
    as a 1 with a thicker stroke than C's mean."""
    _, _, probs, thickness = _equation(view, seed, list(slots))
    return probs.argmax(1).tolist() == [7, 7, 1, 1] and float(thickness[3]) > float(thickness[2])


def _search_preset(view: GanView, first: int, progress: Callable[[float, str], None] | None) -> tuple[int, tuple, str]:
    """The preset's pool seed and slots, from ``first`` on (see ``LatentPanels.preset``),
    and a sentence saying which pool it took ("" for a conditional model).

    Raises:
        ValueError: no pool among those tried has two clear 7s and a clear 1.
    """
    found, fallback, tried = None, None, 0
    for tried, seed in enumerate(range(first, min(first + PRESET_TRIES, SEED_MAX + 1)), 1):
        if progress is not None:
            progress((tried - 1) / PRESET_TRIES, f"searching pool {seed}")
        slots = _preset_slots(view, seed)
        if slots is None:
            continue
        if view.conditional or _reads_as_thick_1(view, seed, slots):
            found = seed, slots
            break
        fallback = fallback or (seed, slots)
    if found is not None:
        note = "" if view.conditional else f"Pool seed {found[0]} is the first from {first} where A − B + C reads as a thicker 1 ({tried} pools tried)."
        return *found, note
    if fallback is None:
        raise ValueError(f"no pool among the {PRESET_TRIES} seeds tried has two clear 7s and a 1: this model rarely draws them")
    note = (
        f"No pool among the {tried} tried from seed {first} gives a thicker 1; this is the first with clear 7s "
        "and 1s. An unconditional GAN mixes style and class in one z: the cGAN separates them."
    )
    return *fallback, note


def _sign(kind: str) -> np.ndarray:
    """An operator ("−", "+" or "=") as an RGB cell (32, ``OPERATOR_WIDTH``, 3) on the
    grid's grey, in ``OPERATOR_COLOUR``: bars 10 pixels long and 2 thick."""
    cell = np.full((32, OPERATOR_WIDTH, 3), PADDING_GREY, dtype=np.uint8)
    left = (OPERATOR_WIDTH - 10) // 2
    rows = {"−": [15], "+": [15], "=": [12, 18]}[kind]
    for row in rows:
        cell[row : row + 2, left : left + 10] = OPERATOR_COLOUR
    if kind == "+":
        cell[11:21, left + 4 : left + 6] = OPERATOR_COLOUR
    return cell


def equation_picture(images: Tensor) -> np.ndarray:
    """The slot means and the result (4, 1, 28, 28) in [0, 1] as one RGB picture that
    reads "A − B + C = result": each image framed by 2 pixels of ``image_grid``'s grey,
    the signs drawn between them. A uint8 array (32, 4 * 32 + 3 * ``OPERATOR_WIDTH``, 3)."""
    framed = np.pad(image_grid(images, nrow=1, padding=0).reshape(4, 28, 28), ((0, 0), (2, 2), (2, 2)), constant_values=PADDING_GREY)
    tiles = [np.repeat(tile[..., None], 3, axis=2) for tile in framed]
    parts = [tiles[0], _sign("−"), tiles[1], _sign("+"), tiles[2], _sign("="), tiles[3]]
    return np.concatenate(parts, axis=1)


def _digits(digits: list[int]) -> str:
    return ", ".join(map(str, digits))


class LatentPanels:
    """The pool, interpolation, walk and vector-arithmetic views of ``GanViews`` (which
    supplies ``session``)."""

    session: Callable[[Any], GanSession]

    # -- the pool of samples, interpolation and the walk -----------------------------------------
    def pool(self, session: Any, pool_seed: Any = 0) -> list[tuple[np.ndarray, str]]:
        """The 60 numbered samples that interpolation and arithmetic pick from, drawn with
        ``pool_seed`` in [0, 2^31): gallery items (28 x 28 uint8 image, caption "#i", or
        "#i · d" with the digit d a conditional model drew).

        Raises:
            ValueError: a bad seed.
        """
        view = self.session(session).view
        z, y = view.pool(check_int("pool seed", pool_seed, 0, SEED_MAX))
        images = view.generate(z, y)
        return [(image_grid(images[i : i + 1], 1), f"#{i}" + (f" · {int(y[i])}" if y is not None else "")) for i in range(POOL_SIZE)]

    def _pair(self, session: Any, pool_seed: Any, index_a: Any, index_b: Any) -> tuple[GanView, Tensor, Tensor | None, int, int]:
        """(view, pool latents, pool labels, a, b) for pool samples A and B."""
        view = self.session(session).view
        z, y = view.pool(check_int("pool seed", pool_seed, 0, SEED_MAX))
        return view, z, y, check_int("sample A", index_a, 0, POOL_SIZE - 1), check_int("sample B", index_b, 0, POOL_SIZE - 1)

    def interpolate(self, session: Any, pool_seed: Any, index_a: Any, index_b: Any, n_steps: Any = INTERPOLATION_STEPS.default) -> np.ndarray:
        """Decode latents between pool samples A and B (numbers in [0, 59] of the pool of
        ``pool_seed``): top row linear, bottom row spherical (slerp), ``n_steps`` in
        [3, 20] images each, endpoints included; a conditional model's label blends from
        A's digit to B's along the path. A uint8 grid.

        Raises:
            ValueError: a bad seed, sample number or count.
        """
        view, z, y, a, b = self._pair(session, pool_seed, index_a, index_b)
        n = INTERPOLATION_STEPS.check("images", n_steps)
        t = torch.linspace(0, 1, n)
        linear = (1 - t[:, None]) * z[a] + t[:, None] * z[b]
        labels = label_blends(torch.stack([y[a], y[b]]), t).repeat(2, 1) if y is not None else None
        return image_grid(view.generate_path(torch.cat([linear, slerp(z[a], z[b], t)]), labels), nrow=n)

    def walk(self, session: Any, pool_seed: Any, index_a: Any, index_b: Any, walk_seed: Any = 0) -> str:
        """A latent walk as a looping GIF (path): along great circles from pool sample A to
        B, on to two latents drawn with ``walk_seed`` and back to A (``WALK_FRAMES``
        frames). A conditional model's label blends along the way, via two random digits.

        Raises:
            ValueError: a bad seed or sample number.
        """
        view, z, y, a, b = self._pair(session, pool_seed, index_a, index_b)
        g = torch.Generator().manual_seed(check_int("walk seed", walk_seed, 0, SEED_MAX))
        extra = torch.randn(2, view.model.latent_dim, generator=g)
        anchors = [z[a], z[b], extra[0], extra[1], z[a]]
        t = torch.linspace(0, 1, WALK_FRAMES // 4 + 1)[:-1]
        weights = None
        if y is not None:
            labels = [y[a], y[b], torch.randint(0, 10, (), generator=g), torch.randint(0, 10, (), generator=g), y[a]]
            weights = label_blends(torch.stack(labels), t)
        images = view.generate_path(torch.cat([slerp(anchors[i], anchors[i + 1], t) for i in range(4)]), weights)
        return save_animation([image_grid(images[i : i + 1], 1) for i in range(len(images))], "gan-latent-walk", frame_ms=90, scale=6)

    # -- vector arithmetic ------------------------------------------------------------------------
    def arithmetic(
        self, session: Any, pool_seed: Any, slot_a: Any, slot_b: Any, slot_c: Any,
        label_a: Any = 7, label_b: Any = 7, label_c: Any = 1, noise_seed: Any = 0,
    ) -> tuple[np.ndarray, np.ndarray, str]:
        """Latent vector arithmetic: decode mean(z_A) - mean(z_B) + mean(z_C) and 8
        neighbours (the result plus noise of standard deviation 0.25, drawn with
        ``noise_seed``), from the pool of ``pool_seed``.

        Args:
            slot_a, slot_b, slot_c: pool sample numbers, e.g. "3, 7, 12" (1 to 8 each).
            label_a, label_b, label_c: the digits (0-9) the slots stand for; a conditional
                model draws them so (the result as C's digit).

        Returns:
            (RGB uint8 image: "A − B + C = result", the three slot means and the result
            with the signs between them (``equation_picture``); uint8 image: 3 x 3
            neighbours, the exact result in the centre; markdown table: the classifier's
            reading and the stroke thickness of each).

        Raises:
            ValueError: a bad seed or digit, or a slot that is empty, too long or holds
                numbers outside [0, 59].
        """
        session = self.session(session)
        view = session.view
        seed = check_int("pool seed", pool_seed, 0, SEED_MAX)
        slots = [parse_slot(n, s) for n, s in zip("ABC", (slot_a, slot_b, slot_c))]
        digits = [check_digit(f"{n}'s digit", d) for n, d in zip("ABC", (label_a, label_b, label_c))]
        g = torch.Generator().manual_seed(check_int("noise seed", noise_seed, 0, SEED_MAX))
        noise = NEIGHBOUR_NOISE * torch.randn(9, view.model.latent_dim, generator=g)
        noise[4] = 0
        labels = torch.tensor([*digits, digits[2]]) if view.conditional else None
        result, images, probs, thickness = _equation(view, seed, slots, labels)
        neighbours = view.generate(result + noise, torch.full((9,), digits[2]) if labels is not None else None)
        session.readings = ((seed, tuple(map(tuple, slots)), tuple(digits)), probs[:3].argmax(1).tolist())
        names = ["mean of A", "mean of B", "mean of C", "A − B + C"]
        rows = "\n".join(
            f"| {names[i]}{f' (digit {int(labels[i])})' if labels is not None else ''} | "
            f"{int(probs[i].argmax())} ({float(probs[i].max()):.0%}) | {float(thickness[i]):.1f} |"
            for i in range(4)
        )
        table = f"| | classifier says | stroke thickness (px) |\n|---|---|---|\n{rows}"
        return equation_picture(images), image_grid(neighbours, nrow=3), table

    def redraw_arithmetic(self, session: Any, *settings: Any) -> tuple[np.ndarray, np.ndarray, str]:
        """``arithmetic`` with the same ``settings`` for the session's new model (after a
        Load, Restore or training run: no preset search). The table also says when the
        slots no longer fit: their means read as other digits than with the previous
        model (or, the first time, than the digits the slots stand for)."""
        session = self.session(session)
        before = session.readings
        equation, neighbours, table = self.arithmetic(session, *settings)
        (seed, slots, meant), now = session.readings
        if before is not None and before[0] == (seed, slots, meant):
            misfit = f"{_digits(now)} here, {_digits(before[1])} before" if before[1] != now else ""
        else:
            misfit = f"{_digits(now)}, not {_digits(meant)}" if now != list(meant) else ""
        if misfit:
            table += (
                f"\n\n⚠️ The slots no longer fit this model: their means read as {misfit}. "
                "Press the preset to search this model's pools, or pick other samples."
            )
        return equation, neighbours, table

    def preset(self, session: Any, pool_seed: Any, progress: Callable[[float, str], None] | None = None) -> tuple:
        """Fill the slots with the worked example thick 7 − thin 7 + thin 1: the thickest
        7s, the thinnest 7s and the thinnest 1s of a pool (up to three each).

        A conditional model draws any latent as a 7 or a 1 (same z, other label), so the
        pool of ``pool_seed`` always serves. An unconditional model can only use samples
        the classifier reads as 7s and 1s, and its latent mixes style with class, so the
        arithmetic works on some pools only: the next seeds are tried (up to 50, about
        0.1 s each; ``progress`` hears of each) and the pool changes to the first whose
        A − B + C reads as a thicker 1, or, if none does, to the first with clear 7s and
        1s (the table says which).

        Returns:
            (pool seed, pool gallery items, slot A, slot B, slot C texts, A's, B's, C's
            digits, then ``arithmetic``'s three outputs).

        Raises:
            ValueError: a bad seed, or no pool among the 50 tried has two clear 7s and a
                clear 1.
        """
        session = self.session(session)
        seed, slots, note = _search_preset(session.view, check_int("pool seed", pool_seed, 0, SEED_MAX), progress)
        texts = [", ".join(map(str, s)) for s in slots]
        equation, neighbours, table = self.arithmetic(session, seed, *texts, *PRESET)
        return (seed, self.pool(session, seed), *texts, *PRESET, equation, neighbours, table + (f"\n\n{note}" if note else ""))
