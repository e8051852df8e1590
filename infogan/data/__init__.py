"""Images in, uint8 tensors out.

- datasets.py: the data set table (`DATASETS`, one entry each), MNIST / CIFAR-10 / npz / folder readers,
  the downloader, and the held-out splits.
- shapes.py: the procedurally drawn sprites with known factors (dSprites-like).
- augment.py: random affine deformations of a batch on its device (--iic-weight's second view).
"""
