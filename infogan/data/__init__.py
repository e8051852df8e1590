"""Images in, uint8 tensors out.

- datasets.py: the table of data sets (`DATASETS`, one entry each) and `load_dataset`, from a spec to images.
- formats.py: the readers of each format (IDX, CIFAR-10 batches, SVHN .mat, dSprites, npz, image folders).
- download.py: mirrors, SHA-256 checks, timeouts, and the folder data lives in.
- images.py: `ImageData`, the [-1, 1] conversions, and how a run places its images on its device.
- shapes.py: the procedurally drawn sprites with known factors (dSprites-like).
- augment.py: random deformations of a batch on its device (--iic-weight's second view).
"""
