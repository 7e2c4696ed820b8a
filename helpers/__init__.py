"""The code behind the book: convolutions from scratch, PyTorch layers, cost
formulas, models, figures and exercise checkers.

Each module holds one idea; import from the module itself, for example
``from helpers.numpy_conv import conv2d``. Figures (``helpers.figures``) and
checkers (``helpers.checks``) have one module a topic, named like the chapters:
counting (1), convolution (2-3), separable (4-5), cost (6), overfitting (7),
architectures (8), lowrank (9).
"""
