"""infogan: train, evaluate and explore InfoGAN models (Chen et al. 2016) on PyTorch.

Notebook use:
    from infogan import TrainConfig, train, load_generator
    run_dir = train(TrainConfig(dataset="mnist-sample", epochs=5))
    generator = load_generator(run_dir)
    images = generate(generator, generator.spec.grid(torch.Generator().manual_seed(0)))
    codes = encode(load_encoder(run_dir), real_images)   # Q's reading of real images
"""

from infogan.config import TrainConfig
from infogan.errors import UsageError
from infogan.model.latent import LatentSpec
from infogan.presets import PRESETS
from infogan.serve.encode import Encoded, encode, load_encoder
from infogan.serve.inference import generate, load_generator
from infogan.train.launch import resume, train

__all__ = [
    "PRESETS",
    "Encoded",
    "LatentSpec",
    "TrainConfig",
    "UsageError",
    "encode",
    "generate",
    "load_encoder",
    "load_generator",
    "resume",
    "train",
]
__version__ = "0.1.0"
