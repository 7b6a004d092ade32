"""Wake-sleep fine-tuning of a DBN: the wake phase changes only the generative weights and
the sleep phase only the recognition weights (exact equality of the others), and a few
steps on real digits improve the reconstruction and the variational bound."""

from __future__ import annotations

import pytest
import torch

from models.base import seeded_init
from models.dbn import DBN
from models.wake_sleep import WakeSleep
from playground.core.training import TrainConfig, train

pytestmark = pytest.mark.usefixtures("one_thread")

GENERATIVE = ("generative_weights", "generative_biases")
RECOGNITION = ("recognition_weights", "recognition_biases")


@pytest.fixture(scope="module")
def dbn(data):
    model = seeded_init(DBN, 0, hidden_sizes=[64, 32], steps_per_layer=100, n_gibbs=5)
    config = TrainConfig(steps=200, lr=0.05, batch_size=50, seed=0, eval_every=0, sample_every=0, n_eval=50, log_every=50)
    assert list(train(model, data, config))[-1].status == "done"
    return model


def _snapshot(model: WakeSleep) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _changed(model: WakeSleep, before: dict[str, torch.Tensor]) -> set[str]:
    return {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}


def test_untied_weights_start_as_the_dbn_s(dbn):
    model = WakeSleep(dbn)
    assert torch.equal(model.recognition_weights[0], dbn.layers[0].weight) and torch.equal(model.generative_weights[0], dbn.layers[0].weight.T)
    assert model.recognition_weights[0].data_ptr() != model.generative_weights[0].data_ptr()


def test_wake_changes_only_generative_weights_and_sleep_only_recognition_weights(dbn, data):
    model, g = WakeSleep(dbn, top_gibbs=2), torch.Generator().manual_seed(0)
    x = data.images("train", "binary")[:40]
    for _ in range(3):
        before = _snapshot(model)
        report = model.wake(x, 0.1, g)
        changed = _changed(model, before)
        assert changed and all(k.startswith(GENERATIVE) for k in changed) and report["recognition"] == 0 and report["generative"] > 0
        assert {f"{name}.0" for name in GENERATIVE} <= changed
        before = _snapshot(model)
        report = model.sleep(40, 0.1, g)
        changed = _changed(model, before)
        assert changed and all(k.startswith(RECOGNITION) for k in changed) and report["generative"] == 0 and report["recognition"] > 0
        assert {f"{name}.0" for name in RECOGNITION} <= changed
    assert torch.equal(model.top.weight, dbn.top.weight)  # the top RBM is kept as it was
    assert torch.equal(WakeSleep(dbn).generative_weights[0], dbn.layers[0].weight.T)  # the DBN itself is not touched


def test_a_few_steps_on_digits_improve_reconstruction_and_bound(dbn, data):
    model, g = WakeSleep(dbn), torch.Generator().manual_seed(0)
    x, x_test = data.images("train", "binary"), data.images("test", "binary")[:300]
    recon, bound = float(model.reconstruction(x_test).mean()), float(model.bound(x_test, 20, torch.Generator().manual_seed(1)).mean())
    for _ in range(150):
        batch = x[torch.randint(0, len(x), (100,), generator=g)]
        model.wake(batch, 0.05, g)
        model.sleep(100, 0.05, g)
    assert float(model.reconstruction(x_test).mean()) < recon - 0.5
    assert float(model.bound(x_test, 20, torch.Generator().manual_seed(1)).mean()) > bound + 0.2


def test_samples_and_bad_settings(dbn):
    model = WakeSleep(dbn)
    samples = model.sample(5, 3, torch.Generator().manual_seed(0))
    assert samples.shape == (5, 1, 28, 28) and 0 <= samples.min() and samples.max() <= 1
    with pytest.raises(ValueError, match="at least 2 layers"):
        WakeSleep(seeded_init(DBN, 0, hidden_sizes=[8]))
    with pytest.raises(ValueError, match="learning rate must be"):
        model.wake(torch.zeros(2, 1, 28, 28), float("nan"))
    with pytest.raises(ValueError, match="dreams must be in"):
        model.sleep(0, 0.1)
