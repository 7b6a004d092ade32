"""Pure PyTorch models, one file per family. Nothing here imports gradio or the app.

``FAMILIES`` maps each family name (as used by the CLI, ``config.json`` and the bundled
checkpoints) to its class.
"""

from models.base import GenerativeModel
from models.began import BEGAN
from models.char_rnn import CharRNN
from models.char_transformer import CharTransformer
from models.classifier import MnistClassifier
from models.cyclegan import CycleGAN
from models.dbm import DBM
from models.dbn import DBN
from models.diagonal_bilstm import DiagonalBiLSTM
from models.gan import GAN, ConditionalGAN
from models.hub import CheckpointError, HubModel
from models.made import MADE
from models.multiscale import MultiscalePixelCNN
from models.nade import NADE
from models.parallel_wavenet import ParallelWaveNet
from models.pixelcnn import GatedPixelCNN, PixelCNN
from models.pixelcnnpp import PixelCNNpp, SoftmaxPixelCNN
from models.pixelrnn import PixelRNN
from models.pixelsnail import PixelSNAIL
from models.pixelvae import PixelVAE
from models.rbm import RBM
from models.srgan import SRGAN
from models.vae import VAE
from models.vpn import VideoPixelNetwork
from models.vqvae import VQVAE, VQVAE2
from models.wavenet import WaveNet
from models.wavenet_local import PitchWaveNet

FAMILIES: dict[str, type[HubModel]] = {
    VAE.family: VAE,
    MnistClassifier.family: MnistClassifier,
    GAN.family: GAN,
    ConditionalGAN.family: ConditionalGAN,
    BEGAN.family: BEGAN,
    RBM.family: RBM,
    DBN.family: DBN,
    DBM.family: DBM,
    NADE.family: NADE,
    MADE.family: MADE,
    PixelCNN.family: PixelCNN,
    GatedPixelCNN.family: GatedPixelCNN,
    PixelRNN.family: PixelRNN,
    PixelSNAIL.family: PixelSNAIL,
    DiagonalBiLSTM.family: DiagonalBiLSTM,
    PixelVAE.family: PixelVAE,
    PixelCNNpp.family: PixelCNNpp,
    SoftmaxPixelCNN.family: SoftmaxPixelCNN,
    MultiscalePixelCNN.family: MultiscalePixelCNN,
    WaveNet.family: WaveNet,
    VQVAE.family: VQVAE,
    VQVAE2.family: VQVAE2,
    CycleGAN.family: CycleGAN,
    SRGAN.family: SRGAN,
    CharRNN.family: CharRNN,
    CharTransformer.family: CharTransformer,
    PitchWaveNet.family: PitchWaveNet,
    ParallelWaveNet.family: ParallelWaveNet,
    VideoPixelNetwork.family: VideoPixelNetwork,
}

__all__ = [
    "BEGAN", "CharRNN", "CharTransformer", "CheckpointError", "ConditionalGAN", "CycleGAN", "DBM", "DBN", "DiagonalBiLSTM", "FAMILIES", "GAN", "GatedPixelCNN",
    "GenerativeModel", "HubModel", "MADE", "MnistClassifier", "MultiscalePixelCNN", "NADE", "PixelCNN", "PixelCNNpp", "PixelRNN",
    "PixelSNAIL", "ParallelWaveNet", "PitchWaveNet", "PixelVAE", "RBM", "SRGAN", "SoftmaxPixelCNN", "VAE", "VQVAE", "VQVAE2", "VideoPixelNetwork", "WaveNet",
]
