"""Wake-sleep fine-tuning of a deep belief net's directed layers.

Hinton, Dayan, Frey & Neal (1995), "The wake-sleep algorithm for unsupervised neural
networks", Science 268; for DBNs the up-down algorithm of Hinton, Osindero & Teh (2006),
"A Fast Learning Algorithm for Deep Belief Nets", Neural Computation 18(7), appendix B.

After greedy training each directed layer of a DBN uses one weight matrix both ways: W
bottom-up to infer h from v (recognition), W^T top-down to generate v from h. Wake-sleep
unties them into recognition weights R (with biases r) and generative weights G (with
biases g), and trains each set from samples of the other:

- wake: pass real digits up through R (sampled states), then move G so that each layer
  predicts the layer below better: dG = h^T (v - sigmoid(h G + g)) / B. Only G and g change.
- sleep: dream: run the top RBM's Gibbs chain a few steps from the wake phase's top states
  (the up-down algorithm's "contrastive" dreams, which stay near the data: dreams from noise
  move R to fit the model's fantasies and loosen the bound), pass them down through G, then move R so that each layer recovers the dreamed layer above: dR = v^T (h -
  sigmoid(v R + r)) / B. Only R and r change.

The top RBM (the undirected associative memory) is kept as it is here, so that its log Z
and the DBN's variational bound (``bound``) stay comparable before and after.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.checks import check_float, check_int
from models.dbn import DBN
from models.rbm import MAX_GIBBS_STEPS, bernoulli

MAX_BATCH = 10_000


def _bernoulli_log_prob(logits: Tensor, x: Tensor) -> Tensor:
    """sum_i log Bernoulli(x_i; sigmoid(logits_i)), (B,) float64."""
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1).double()


class WakeSleep(nn.Module):
    """A DBN with its directed layers untied, trained by wake-sleep.

    Args:
        dbn: a DBN of 2 to 4 layers (copied; the original is not changed).
        top_gibbs: Gibbs steps of the top RBM's dream chain per sleep phase, in [1, 1000].

    Parameters: ``recognition_weights[l]`` (units below, units above) and
    ``recognition_biases[l]``, ``generative_weights[l]`` (units above, units below) and
    ``generative_biases[l]``, one of each per directed layer l (all but the top RBM),
    initialised from the DBN's tied weights; ``top``, the DBN's top RBM (frozen).

    Raises:
        ValueError: a one-layer DBN (nothing directed to untie) or a bad setting.
    """

    def __init__(self, dbn: DBN, top_gibbs: int = 1):
        super().__init__()
        if len(dbn.layers) < 2:
            raise ValueError("wake-sleep fine-tunes a DBN's directed layers: it needs a DBN of at least 2 layers")
        self.top_gibbs = check_int("top-level Gibbs steps", top_gibbs, 1, 1000)
        directed = dbn.layers[:-1]
        self.recognition_weights = nn.ParameterList(nn.Parameter(layer.weight.detach().clone()) for layer in directed)
        self.recognition_biases = nn.ParameterList(nn.Parameter(layer.hidden_bias.detach().clone()) for layer in directed)
        self.generative_weights = nn.ParameterList(nn.Parameter(layer.weight.detach().T.clone()) for layer in directed)
        self.generative_biases = nn.ParameterList(nn.Parameter(layer.visible_bias.detach().clone()) for layer in directed)
        self.top = copy.deepcopy(dbn.top).requires_grad_(False)
        self._dream: Tensor | None = None  # the last wake phase's top states (B, top visible units): where dreams start

    @property
    def n_directed(self) -> int:
        return len(self.recognition_weights)

    def up(self, v: Tensor, generator: torch.Generator | None = None) -> list[Tensor]:
        """Sampled states [v, h1, ..., h_top_visible] of binary images (B, 784) or (B, 1, 28, 28) through R."""
        states = [v.reshape(len(v), -1).to(self.generative_biases[0].dtype)]
        for w, b in zip(self.recognition_weights, self.recognition_biases):
            states.append(bernoulli(torch.sigmoid(states[-1] @ w + b), generator))
        return states

    def down(self, h: Tensor, generator: torch.Generator | None = None) -> tuple[list[Tensor], Tensor]:
        """Sampled states [v, h1, ..., h] from top-RBM visible states h (B, units) down through G,
        and the pixel means p(v = 1 | h1) (B, 784)."""
        states = [h]
        for w, b in zip(reversed(self.generative_weights), reversed(self.generative_biases)):
            mean = torch.sigmoid(states[0] @ w + b)
            states.insert(0, bernoulli(mean, generator))
        return states, mean

    @torch.no_grad()
    def wake(self, x: Tensor, lr: float, generator: torch.Generator | None = None) -> dict[str, float]:
        """The wake phase on binary images x (B, 1, 28, 28): recognition states up, a delta-rule
        step on the generative weights and biases only. Returns the largest change of each set."""
        lr = check_float("learning rate", lr, 0.0, 10.0)
        states = self.up(x, generator)
        self._dream = states[-1]  # the up-down algorithm's sleep starts its dreams here
        changed = 0.0
        for layer, (w, b) in enumerate(zip(self.generative_weights, self.generative_biases)):
            below, above = states[layer], states[layer + 1]
            error = below - torch.sigmoid(above @ w + b)  # (B, units below)
            dw, db = lr * above.T @ error / len(x), lr * error.mean(0)
            w += dw
            b += db
            changed = max(changed, float(dw.abs().max()), float(db.abs().max()))
        return {"generative": changed, "recognition": 0.0}

    @torch.no_grad()
    def sleep(self, n: int, lr: float, generator: torch.Generator | None = None) -> dict[str, float]:
        """The sleep phase: ``n`` (1 to 10,000) dreams, ``top_gibbs`` Gibbs steps of the top RBM
        from the last wake phase's top states (as in the up-down algorithm; from noise when
        there were not ``n``), passed down through G; then a delta-rule step on the
        recognition weights and biases only. Returns the largest change of each set."""
        n = check_int("dreams", n, 1, MAX_BATCH)
        lr = check_float("learning rate", lr, 0.0, 10.0)
        start = self._dream if self._dream is not None and len(self._dream) == n else None
        if start is None:
            start = bernoulli(torch.full((n, self.top.n_visible), 0.5, device=self.top.weight.device), generator)
        dream, _, _ = self.top.gibbs_chain(start, self.top_gibbs, generator=generator)
        states, _ = self.down(dream, generator)
        changed = 0.0
        for layer, (w, b) in enumerate(zip(self.recognition_weights, self.recognition_biases)):
            below, above = states[layer], states[layer + 1]
            error = above - torch.sigmoid(below @ w + b)  # (n, units above)
            dw, db = lr * below.T @ error / n, lr * error.mean(0)
            w += dw
            b += db
            changed = max(changed, float(dw.abs().max()), float(db.abs().max()))
        return {"generative": 0.0, "recognition": changed}

    @torch.no_grad()
    def bound(self, x: Tensor, n_samples: int = 10, generator: torch.Generator | None = None) -> Tensor:
        """The DBN's variational bound without the top RBM's log Z, nats, (B,) float64:

            E_q[ sum_l log p(h_l | h_l+1) - F_top(h_top) - sum_l log q(h_l+1 | h_l) ],

        q through R, p through G, the expectation by ``n_samples`` (1 to 1,000) draws; minus
        log Z of the (unchanged) top RBM it bounds log p(x)."""
        n_samples = check_int("draws of q", n_samples, 1, 1000)
        v = x.reshape(len(x), -1).to(self.generative_biases[0].dtype)
        states = [v.repeat(n_samples, 1)]
        log_q = torch.zeros(len(states[0]), dtype=torch.float64, device=v.device)
        for w, b in zip(self.recognition_weights, self.recognition_biases):
            logits = states[-1] @ w + b
            states.append(bernoulli(torch.sigmoid(logits), generator))
            log_q += _bernoulli_log_prob(logits, states[-1])
        log_p = -self.top.free_energy(states[-1]).double()
        for layer, (w, b) in enumerate(zip(self.generative_weights, self.generative_biases)):
            log_p += _bernoulli_log_prob(states[layer + 1] @ w + b, states[layer])
        return (log_p - log_q).view(n_samples, len(v)).mean(0)

    @torch.no_grad()
    def reconstruction(self, x: Tensor) -> Tensor:
        """Cross-entropy of binary images x (B, 1, 28, 28) under their mean-field reconstruction (means up
        through R, back down through G), nats per image, (B,) float64: the wake phase's own target."""
        v = x.reshape(len(x), -1).to(self.generative_biases[0].dtype)
        h = v
        for w, b in zip(self.recognition_weights, self.recognition_biases):
            h = torch.sigmoid(h @ w + b)
        for w, b in zip(reversed(self.generative_weights[1:]), reversed(self.generative_biases[1:])):
            h = torch.sigmoid(h @ w + b)
        return -_bernoulli_log_prob(h @ self.generative_weights[0] + self.generative_biases[0], v)

    @torch.no_grad()
    def sample(self, n: int, n_gibbs: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` (1 to 10,000) samples: ``n_gibbs`` (1 to 100,000) Gibbs steps in the top RBM
        from noise, then down through G; pixel means (n, 1, 28, 28) in [0, 1]."""
        n = check_int("samples", n, 1, MAX_BATCH)
        n_gibbs = check_int("Gibbs steps", n_gibbs, 1, MAX_GIBBS_STEPS)
        h = bernoulli(torch.full((n, self.top.n_visible), 0.5, device=self.top.weight.device), generator)
        h, _, _ = self.top.gibbs_chain(h, n_gibbs, generator=generator)
        return self.down(h, generator)[1].view(n, 1, 28, 28)
