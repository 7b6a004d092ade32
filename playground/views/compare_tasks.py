"""The compare tab's second table: the systems whose figure is not a binarised-digit NLL.
CycleGAN (unpaired translation), SRGAN (super-resolution) and the 8-bit grey-level models
(PixelCNN++ against a 256-way softmax PixelCNN) are measured on the same 500 held-out test
digits as the first table, each by the figure its paper reports. No gradio here.

Like the rows (``compare_rows``), these take a minute or more each, so ``python -m
playground compare --rows cyclegan,srgan,pixelcnnpp,pixelcnn256 --write`` keeps them in ``assets/compare.json`` under ``"tasks"``, each
with the key it is valid for (``compare_rows.row_key``: the weights' SHA-256, the test
digits' fingerprint, the judges' files, the measuring settings). The tab shows what is
kept and says which entries are missing; it never computes them on a page load.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from models.checks import N_PIXELS
from playground.core import checkpoints
from playground.core.data import MnistSplits
from playground.core.metrics import sample_quality
from playground.views.compare_rows import CLOCK, SEED, row_key

TASK_HEADERS = ["system", "checkpoint", "task", "figure (its paper's)", "against", "more", "parameters", "source"]
N_GREY_SAMPLES = 16  # grey-level samples drawn pixel by pixel for the quality and speed columns (seconds each on a CPU)


@dataclass(frozen=True)
class TaskSpec:
    """One system of the second table: ``key`` (its id), ``title``, ``source`` (a bundled
    checkpoint name), ``task`` (what it does, a few words) and ``source_text`` (the paper)."""

    key: str
    title: str
    source: str
    task: str
    source_text: str


TASKS = (
    TaskSpec("cyclegan", "CycleGAN", "cyclegan", "unpaired translation: thin ↔ thick strokes", "Zhu et al. 2017, arXiv:1703.10593"),
    TaskSpec("srgan", "SRGAN", "srgan", "super-resolution 14×14 → 28×28", "Ledig et al. 2017, arXiv:1609.04802"),
    TaskSpec("pixelcnnpp", "PixelCNN++", "pixelcnnpp", "8-bit grey digits: likelihood", "Salimans et al. 2017, arXiv:1701.05517"),
    TaskSpec("pixelcnn256", "PixelCNN, 256-way softmax", "pixelcnn-256", "8-bit grey digits: likelihood", "van den Oord et al. 2016, arXiv:1601.06759"),
)


def _cpu() -> float:
    return time.process_time()


def _translation(model: Any, x: torch.Tensor) -> dict[str, Any]:
    f = model.test_figures(x)
    return {
        "figures": {k: round(v, 4) for k, v in f.items()},
        "figure": f"trait {f['trait_a']:.2f} → G(a) {f['trait_g_a']:.2f} (B made in code: {f['trait_b']:.2f})",
        "against": f"cycle error |F(G(a)) − a| {f['cycle_error_a']:.3f} per pixel; |G(a) − b| {f['translation_error']:.3f} (no translation: {f['identity_gap']:.3f})",
        "more": f"F(b) {f['trait_f_b']:.2f}; |G(F(b)) − b| {f['cycle_error_b']:.3f}",
    }


def _super_resolution(model: Any, x: torch.Tensor, data: MnistSplits) -> dict[str, Any]:
    from models.srgan import downsample

    f = model.test_figures(x)
    with torch.no_grad():
        shares = {which: sample_quality(model.upscale(downsample(x), which).float().cpu(), data)["agreed_confident_share"] for which in ("srgan", "pixel", "bicubic")}
    return {
        "figures": {**{k: round(v, 4) for k, v in f.items()}, **{f"agreed_confident_{k}": round(v, 4) for k, v in shares.items()}},
        "figure": f"PSNR {f['psnr_db_srgan']:.1f} dB; agreed-confident {shares['srgan']:.0%}",
        "against": f"pixel loss only {f['psnr_db_pixel']:.1f} dB, {shares['pixel']:.0%}; bicubic {f['psnr_db_bicubic']:.1f} dB, {shares['bicubic']:.0%}",
        "more": f"pools back to its input within {f['consistency_error_srgan']:.1e} (bicubic {f['consistency_error_bicubic']:.2f})",
    }


def _grey_likelihood(model: Any, x: torch.Tensor, data: MnistSplits) -> dict[str, Any]:
    with torch.no_grad():
        nll = -float(torch.cat([model.log_prob(x[i : i + 100]) for i in range(0, len(x), 100)]).double().mean())
        start = _cpu()
        samples = model.sample(N_GREY_SAMPLES, generator=torch.Generator().manual_seed(SEED)).float().cpu()
        seconds = _cpu() - start
    bits = nll / (N_PIXELS * math.log(2))
    share = sample_quality(samples, data)["agreed_confident_share"]
    return {
        "figures": {"nll_nats": round(nll, 4), "bits_per_dim": round(bits, 4), "agreed_confident_share": round(share, 4), "samples_per_s": round(N_GREY_SAMPLES / max(seconds, 1e-9), 3)},
        "figure": f"{bits:.3f} bits/dim ({nll:.1f} nats per digit, exact)",
        "against": "the other 8-bit model in this table (same data, steps, batch and learning rate)",
        "more": f"{N_GREY_SAMPLES} samples: agreed-confident {share:.0%}, {N_GREY_SAMPLES / max(seconds, 1e-9):.2f} samples per CPU second",
    }


def compute_task(spec: TaskSpec, data: MnistSplits) -> dict[str, Any]:
    """The figures and formatted cells of ``spec`` on the test digits of ``data`` (grey, in
    [0, 1]): a minute or two on 2 CPU cores.

    Raises:
        ValueError: the checkpoint cannot be loaded (``checkpoints.load``'s message).
    """
    torch.manual_seed(SEED)
    model = checkpoints.load(spec.source, device="cpu").eval()
    x = data.images("test", "grey")
    if spec.key == "cyclegan":
        entry = _translation(model, x)
    elif spec.key == "srgan":
        entry = _super_resolution(model, x, data)
    else:
        entry = _grey_likelihood(model, x, data)
    return {"title": spec.title, "n_params": sum(p.numel() for p in model.parameters()), "clock": CLOCK, **entry}


class TaskTable:
    """The kept entries of ``TASKS`` (``path``'s ``"tasks"``, the same file as the rows),
    valid only while their key matches (see the module docstring)."""

    def __init__(self, data: MnistSplits, path: Path):
        self.data, self.path = data, Path(path)
        try:
            kept = json.loads(self.path.read_text(encoding="utf-8")).get("tasks") or {}
        except (OSError, ValueError, AttributeError):
            kept = {}
        self.keys = {spec.key: row_key(spec, data) for spec in TASKS}
        self.entries = {k: v for k, v in kept.items() if isinstance(v, dict) and k in self.keys and self.keys[k] is not None and v.get("key") == self.keys[k]}

    def compute(self, only: list[str] | None = None, log: Any = None) -> None:
        """Compute the entries of ``only`` (task ids; default: those missing) and keep them here.

        Raises:
            ValueError: a checkpoint that cannot be loaded.
        """
        for spec in TASKS:
            if (only is None and spec.key not in self.entries) or (only is not None and spec.key in only):
                start = time.perf_counter()
                self.entries[spec.key] = {"key": self.keys[spec.key], **compute_task(spec, self.data)}
                if log is not None:
                    log(f"{spec.key}: {time.perf_counter() - start:.1f} s")

    def table(self) -> tuple[list[str], list[list[str]], str]:
        """(``TASK_HEADERS``, one row of strings per system, a markdown note naming any entry not computed)."""
        rows, missing = [], []
        for spec in TASKS:
            entry = self.entries.get(spec.key)
            if entry is None:
                missing.append(spec.title)
                rows.append([spec.title, spec.source, spec.task, "not computed", "", "", "", spec.source_text])
            else:
                rows.append([spec.title, spec.source, spec.task, entry["figure"], entry["against"], entry["more"], f"{entry['n_params']:,}", spec.source_text])
        note = (
            f"Each on the same {len(self.data.test_labels)} held-out test digits, grey (not binarised). The trait is the stroke thickness "
            "in pixels (2 × ink / boundary ink); PSNR in dB against the true 28×28 digit; bits/dim on the digits rounded to 8 bits (256 levels), so not "
            "comparable with the first table's binarised NLL."
        )
        if missing:
            note += f" Not computed yet: {', '.join(missing)} (`python -m playground compare --rows " + ",".join(s.key for s in TASKS) + " --write`)."
        return list(TASK_HEADERS), rows, note
