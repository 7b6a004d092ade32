"""Pure PyTorch models, one file per family. Nothing here imports gradio or the app.

``FAMILIES`` maps each family name (as used by the CLI, ``config.json`` and the bundled
checkpoints) to its class.
"""

from models.base import GenerativeModel
from models.classifier import MnistClassifier
from models.dbn import DBN
from models.gan import GAN, ConditionalGAN
from models.hub import CheckpointError, HubModel
from models.made import MADE
from models.nade import NADE
from models.pixelcnn import GatedPixelCNN, PixelCNN
from models.pixelrnn import PixelRNN
from models.rbm import RBM
from models.vae import VAE
from models.vqvae import VQVAE, VQVAE2
from models.wavenet import WaveNet

FAMILIES: dict[str, type[HubModel]] = {
    VAE.family: VAE,
    MnistClassifier.family: MnistClassifier,
    GAN.family: GAN,
    ConditionalGAN.family: ConditionalGAN,
    RBM.family: RBM,
    DBN.family: DBN,
    NADE.family: NADE,
    MADE.family: MADE,
    PixelCNN.family: PixelCNN,
    GatedPixelCNN.family: GatedPixelCNN,
    PixelRNN.family: PixelRNN,
    WaveNet.family: WaveNet,
    VQVAE.family: VQVAE,
    VQVAE2.family: VQVAE2,
}

__all__ = [
    "DBN", "FAMILIES", "CheckpointError", "ConditionalGAN", "GAN", "GatedPixelCNN", "GenerativeModel", "HubModel", "MADE",
    "MnistClassifier", "NADE", "PixelCNN", "PixelRNN", "RBM", "VAE", "VQVAE", "VQVAE2", "WaveNet",
]
