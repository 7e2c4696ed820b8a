"""The code behind the book: convolutions from scratch, PyTorch layers, cost
formulas, models, figures and exercise checkers.

Each module holds one idea; import from the module itself, for example
``from helpers.numpy_conv import conv2d``.
"""
