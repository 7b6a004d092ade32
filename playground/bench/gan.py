"""The GAN's figures: the trainer and the tab's training stream against a plain DCGAN loop,
time to recognisable digits and Stop-to-idle."""

from __future__ import annotations

import threading
from collections.abc import Callable

from models import GAN
from models.base import seeded_init
from playground.bench.common import best_of, context, rates, stop_to_idle, time_to_recognisable, timed_drain
from playground.bench.loops import plain_gan_loop
from playground.core.data import load_mnist
from playground.core.device import get_device
from playground.core.training import TrainConfig, train
from playground.views.gan import TRAIN_DEFAULTS, GanViews
from playground.views.gan_lab import LabViews


def bench_gan(steps: int, repeats: int, log: Callable[[str], None]) -> dict:
    """GAN steps/s through the trainer and the tab's Train handler, each next to the plain
    DCGAN loop on the same networks."""
    device = get_device()
    data = load_mnist()
    x = data.train_grey.to(device)
    defaults = GAN.train_defaults
    config = TrainConfig(steps=steps, lr=defaults["lr"], batch_size=defaults["batch_size"], log_every=25, sample_every=0, eval_every=0)
    best_plain, best_trainer = best_of(
        repeats,
        lambda: plain_gan_loop(seeded_init(GAN, 0).to(device), x, steps, config.batch_size, config.lr, 0),
        lambda: timed_drain(lambda: train(seeded_init(GAN, 0).to(device), data, config), device),
        "trainer", steps, log,
    )
    views = GanViews(context())
    ui = dict(TRAIN_DEFAULTS, steps=steps)
    ui_config = {k: ui[k] for k in ("latent_dim", "width", "minibatch_std", "d_dropout")}
    ui_plain, ui_handler = best_of(
        repeats,
        lambda: plain_gan_loop(seeded_init(GAN, 0, **ui_config).to(device), x, steps, 64, ui["lr_g"], 0),
        lambda: timed_drain(lambda: views.train(views.session(None), **ui, stop=threading.Event()), device),
        "Train stream", steps, log,
    )
    return {
        "model": f"DCGAN {GAN().config}",
        "batch_size": config.batch_size,
        "steps_timed": steps,
        **rates(steps, "steps", best_plain, best_trainer, ndigits=2),
        "ui_model": f"DCGAN width {ui['width']}, latent {ui['latent_dim']} (the tab's defaults)",
        **rates(steps, "steps", ui_plain, ui_handler, other="ui", ndigits=2),
    }


def bench_gan_ui_training(budget_s: float, log: Callable[[str], None]) -> dict:
    """Seconds until the GAN tab's training stream, with the Train panel's defaults,
    shows recognisable digits (scoring time excluded)."""
    views = GanViews(context())
    stop = threading.Event()
    run = views.train(views.session(None), **dict(TRAIN_DEFAULTS, steps=5000), stop=stop)
    return time_to_recognisable(run, lambda out: (out[0], out[1]), stop.set, budget_s, log)


def bench(quick: bool, log: Callable[[str], None]) -> dict:
    """Every GAN figure (see the package docstring), the 2D lab's Stop-to-idle included."""
    log("GAN training: trainer and Train stream vs plain DCGAN loops")
    figures = bench_gan(steps=10 if quick else 300, repeats=1 if quick else 2, log=log)
    log("GAN training from scratch in the UI: time to recognisable digits")
    figures.update(bench_gan_ui_training(budget_s=5 if quick else 90, log=log))
    log("GAN Train panel and the 2D lab's Train: Stop to idle")
    delays = [1.0] if quick else [0.5, 1.0, 2.0, 3.0]
    views, lab = GanViews(context()), LabViews()
    figures.update(stop_to_idle(lambda stop: views.train(views.session(None), **TRAIN_DEFAULTS, stop=stop), delays, log, "gan"))
    lab_figures = stop_to_idle(lambda stop: lab.train(lab.session(None), stop=stop), delays, log, "gan lab")
    figures.update({f"lab_{k}": v for k, v in lab_figures.items()})
    return figures
