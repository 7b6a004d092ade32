"""Pure PyTorch models, one file per family. Nothing here imports gradio or the app.

``FAMILIES`` maps each family name (as used by the CLI, ``config.json`` and the bundled
checkpoints) to its class.
"""

from models.base import CheckpointError, GenerativeModel, HubModel
from models.classifier import MnistClassifier
from models.vae import VAE

FAMILIES: dict[str, type[HubModel]] = {
    VAE.family: VAE,
    MnistClassifier.family: MnistClassifier,
}

__all__ = ["FAMILIES", "CheckpointError", "GenerativeModel", "HubModel", "MnistClassifier", "VAE"]
