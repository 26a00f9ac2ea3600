"""Applications over trained models: the text commands (generate, translate, neighbors, analogy).

The top layer: an app may load checkpoints (:mod:`zoo.checkpoint`) and use any
model family; nothing below imports an app. ``zoo/cli.py`` names each command's module.
"""
