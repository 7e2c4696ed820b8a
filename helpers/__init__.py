"""The code behind the book, in three layers (one folder each):

- ``helpers.core``: what the book teaches, readable end to end: geometry, the
  NumPy convolutions, the PyTorch layers, cost, the architectures, low rank,
  folding and quantizing. It imports nothing from the other two layers.
- ``helpers.lab``: the experiments' tools: data, the small CNN, training,
  statistics, the timing harness, roofline, dispatch logs, paper tables. It
  imports only the core.
- ``helpers.book``: the book's machinery: figures, exercise checkers, glue.

Import from the module itself, for example
``from helpers.core.numpy_conv import conv2d``. Figures and checkers have one
module a topic, named like the chapters: counting (1), convolution (2-3),
separable (4-5), cost (6), overfitting (7), architectures (8), lowrank (9),
deployment (10).
"""
