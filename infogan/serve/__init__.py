"""Using a trained model.

- inference.py: load a generator (run, checkpoint, safetensors, pretrained:NAME) and draw images.
- pictures.py: grids, traversals, GIFs and the training curves.
- pretrained.py: the models shipped with the package.
- explorer.py: the web explorer (`infogan explore`).
"""
