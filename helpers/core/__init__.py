"""The teaching core: the code the book teaches, readable end to end.

Read in chapter order: ``geometry`` (padding and output size), ``numpy_conv``
(the convolutions from scratch), ``layers`` (the PyTorch layers), ``cost``
(parameters and multiply-adds), ``models`` (MobileNet, Xception, MobileNetV2,
DeepLabv3+), ``lowrank`` (the low-rank view), ``folding`` and ``quantize``
(after training). ``_validate`` checks arguments and ``threads`` pins
PyTorch's thread count. Nothing here imports ``helpers.lab`` or ``helpers.book``.
"""
