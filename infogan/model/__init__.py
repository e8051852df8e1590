"""The model: what InfoGAN is, independent of how it is trained.

- latent.py: the latent code (noise, categorical and continuous codes), its prior and Q's outputs.
- networks.py: the architectures (`ARCHS`, one table entry each), G, D with Q's head, InfoGAN-CR's pair D.
- losses.py: the objective term by term, and who minimises what.
"""
