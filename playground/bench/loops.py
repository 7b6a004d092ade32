"""Textbook training loops written without the trainer: the references its overhead is
measured against."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from models import GAN, RBM, VAE
from playground.bench.common import sync
from playground.core.data import batches


def _timed(device: torch.device, steps: int, step: Callable[[], None]) -> float:
    """Seconds for ``steps`` calls of ``step``, waiting for queued GPU work at both ends."""
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return time.perf_counter() - start


def _descend(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def plain_vae_loop(model: VAE, x: torch.Tensor, steps: int, batch_size: int, lr: float, seed: int) -> float:
    """Seconds for ``steps`` Adam steps of the bare loop the trainer wraps."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator(device=x.device).manual_seed(seed)
    index_stream = batches(len(x), batch_size, generator)
    model.train()
    return _timed(x.device, steps, lambda: _descend(optimizer, model.loss(x[next(index_stream)], generator=generator)["loss"]))


def plain_gan_loop(model: GAN, x: torch.Tensor, steps: int, batch_size: int, lr: float, seed: int) -> float:
    """Seconds for ``steps`` steps of the textbook DCGAN loop on ``model``'s networks
    (non-saturating loss, k = 1), written without the trainer or ``GAN.train_step``."""
    generator = torch.Generator(device=x.device).manual_seed(seed)
    d_params = [*model.discriminator.parameters(), *model.d_head.parameters()]
    opt_d = torch.optim.Adam(d_params, lr=lr, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=lr, betas=(0.5, 0.999))
    index_stream = batches(len(x), batch_size, generator)

    def d(images: torch.Tensor) -> torch.Tensor:
        return model.d_head(model.discriminator(images * 2 - 1)).squeeze(1)

    def step() -> None:
        real = x[next(index_stream)]
        n = len(real)
        z = torch.randn(n, model.latent_dim, generator=generator, device=x.device)
        fake = (model.generator(z) + 1) / 2
        ones, zeros = torch.ones(n, device=x.device), torch.zeros(n, device=x.device)
        _descend(opt_d, F.binary_cross_entropy_with_logits(d(real), ones) + F.binary_cross_entropy_with_logits(d(fake.detach()), zeros))
        z = torch.randn(n, model.latent_dim, generator=generator, device=x.device)
        _descend(opt_g, F.binary_cross_entropy_with_logits(d((model.generator(z) + 1) / 2), ones))

    model.train()
    return _timed(x.device, steps, step)


def plain_cd_loop(model: RBM, x: torch.Tensor, steps: int, batch_size: int, lr: float, seed: int) -> float:
    """Seconds for ``steps`` PCD-1 updates written out by hand (the textbook loop, no
    trainer): the reference for the trainer's overhead on an RBM."""
    g = torch.Generator(device=x.device).manual_seed(seed)
    chains = [torch.bernoulli(torch.full((batch_size, 784), 0.5, device=x.device), generator=g)]
    W, a, b = model.weight.detach(), model.visible_bias.detach(), model.hidden_bias.detach()
    velocity = [torch.zeros_like(t) for t in (W, a, b)]

    def step() -> None:
        v0 = x[torch.randint(len(x), (batch_size,), generator=g, device=x.device)].view(batch_size, -1)
        ph0 = torch.sigmoid(v0 @ W + b)
        h = torch.bernoulli(torch.sigmoid(chains[0] @ W + b), generator=g)
        vk = chains[0] = torch.bernoulli(torch.sigmoid(h @ W.T + a), generator=g)
        phk = torch.sigmoid(vk @ W + b)
        grads = ((v0.T @ ph0 - vk.T @ phk) / batch_size - model.weight_decay * W, (v0 - vk).mean(0), (ph0 - phk).mean(0))
        for t, vel, grad in zip((W, a, b), velocity, grads):
            vel.mul_(model.momentum).add_(grad)
            t.add_(lr * vel)

    return _timed(x.device, steps, step)
