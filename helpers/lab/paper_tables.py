"""Published numbers from the papers, as data with their source.

Every table here was transcribed from the paper it names and cross-checked
against a second transcription (the arXiv version, ar5iv rendering). The
chapter on architectures compares each value with a count made from our own
models, so a transcription error would show up there as a disagreement.

Values are stored exactly as printed, typos included; the notes say which
entries are known or found to disagree with the rest of the paper.
:func:`mobilenet_v1_table` writes the rows of MobileNet's Table 1 from a built
model, to hold against :data:`MOBILENET_TABLE1_BODY`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from helpers.core._validate import require_module, require_positive_int
from helpers.core.modes import evaluating

__all__ = [
    "PaperTable",
    "MOBILENET_TABLE1_BODY",
    "MOBILENET_TABLE2_RESOURCES",
    "MOBILENET_TABLE3_LAYER",
    "MOBILENET_TABLE4_CONV_VS_SEPARABLE",
    "MOBILENET_TABLE5_SHALLOW",
    "MOBILENET_TABLE6_WIDTH",
    "MOBILENET_TABLE7_RESOLUTION",
    "ALL_TABLES",
    "table1_layers",
    "TableRow",
    "MAX_RESOLUTION",
    "mobilenet_v1_table",
]

#: The largest image :func:`mobilenet_v1_table` runs a model on: about four times
#: ImageNet's 224 (MobileNetV1's activations at 1024 x 1024 take 130 MB).
MAX_RESOLUTION = 1024


@dataclass(frozen=True)
class PaperTable:
    """One table of a paper: its source, column names and rows as printed.

    ``bibkey`` is the key in the book's ``references.bib``; ``table`` the
    table's number in the paper (e.g. ``"Table 6"``).
    """

    bibkey: str
    citation: str
    table: str
    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    note: str = ""

    def __post_init__(self) -> None:
        for name in ("bibkey", "citation", "table", "caption", "note"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{name} must be a str, got {getattr(self, name)!r}")
        if not isinstance(self.columns, tuple) or not self.columns or \
                not all(isinstance(c, str) for c in self.columns):
            raise TypeError(f"columns must be a non-empty tuple of str, got {self.columns!r}")
        if not isinstance(self.rows, tuple) or not all(isinstance(r, tuple) for r in self.rows):
            raise TypeError(f"rows must be a tuple of tuples, got {self.rows!r}")
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(
                    f"{self.table}: row {row!r} has {len(row)} values for "
                    f"{len(self.columns)} columns {self.columns}"
                )

    @property
    def source(self) -> str:
        """A short human-readable source, e.g. ``"Howard et al. (2017), Table 6"``."""
        return f"{self.citation}, {self.table}"

    def column(self, name: str) -> tuple[Any, ...]:
        """All values of the column called ``name``."""
        if not isinstance(name, str):
            raise TypeError(f"name must be a column name (a str), got {name!r}")
        if name not in self.columns:
            raise KeyError(f"{self.table} has no column {name!r}; columns are {self.columns}")
        index = self.columns.index(name)
        return tuple(row[index] for row in self.rows)

    def row(self, label: Any) -> dict[str, Any]:
        """The row whose first value is ``label``, as a ``{column: value}`` dict."""
        for row in self.rows:
            if row[0] == label:
                return dict(zip(self.columns, row, strict=True))
        labels = [row[0] for row in self.rows]
        raise KeyError(f"{self.table} has no row {label!r}; rows are {labels}")


def _mobilenet(table: str, caption: str, columns: tuple[str, ...],
               rows: tuple[tuple[Any, ...], ...], note: str = "") -> PaperTable:
    """A table of Howard et al. (2017), the MobileNet paper."""
    return PaperTable("howard2017mobilenets", "Howard et al. (2017)", table, caption, columns,
                      rows, note)


def _results(table: str, caption: str, first_column: str,
             *rows: tuple[Any, ...]) -> PaperTable:
    """One of Tables 4 to 7: a model per row, then its accuracy and costs."""
    columns = (first_column, "ImageNet accuracy %", "million mult-adds", "million parameters")
    return _mobilenet(table, caption, columns, rows)

#: Table 1 of Howard et al. (2017), "MobileNet Body Architecture", as printed.
#: Columns: type/stride, filter shape, input size, and how many times the row
#: repeats (the paper brackets the two ``14 x 14 x 512`` rows with "5x").
MOBILENET_TABLE1_BODY = _mobilenet(
    "Table 1",
    "MobileNet Body Architecture",
    ("type / stride", "filter shape", "input size", "repeat"),
    (
        ("Conv / s2", "3 × 3 × 3 × 32", "224 × 224 × 3", 1),
        ("Conv dw / s1", "3 × 3 × 32 dw", "112 × 112 × 32", 1),
        ("Conv / s1", "1 × 1 × 32 × 64", "112 × 112 × 32", 1),
        ("Conv dw / s2", "3 × 3 × 64 dw", "112 × 112 × 64", 1),
        ("Conv / s1", "1 × 1 × 64 × 128", "56 × 56 × 64", 1),
        ("Conv dw / s1", "3 × 3 × 128 dw", "56 × 56 × 128", 1),
        ("Conv / s1", "1 × 1 × 128 × 128", "56 × 56 × 128", 1),
        ("Conv dw / s2", "3 × 3 × 128 dw", "56 × 56 × 128", 1),
        ("Conv / s1", "1 × 1 × 128 × 256", "28 × 28 × 128", 1),
        ("Conv dw / s1", "3 × 3 × 256 dw", "28 × 28 × 256", 1),
        ("Conv / s1", "1 × 1 × 256 × 256", "28 × 28 × 256", 1),
        ("Conv dw / s2", "3 × 3 × 256 dw", "28 × 28 × 256", 1),
        ("Conv / s1", "1 × 1 × 256 × 512", "14 × 14 × 256", 1),
        ("Conv dw / s1", "3 × 3 × 512 dw", "14 × 14 × 512", 5),
        ("Conv / s1", "1 × 1 × 512 × 512", "14 × 14 × 512", 5),
        ("Conv dw / s2", "3 × 3 × 512 dw", "14 × 14 × 512", 1),
        ("Conv / s1", "1 × 1 × 512 × 1024", "7 × 7 × 512", 1),
        ("Conv dw / s2", "3 × 3 × 1024 dw", "7 × 7 × 1024", 1),
        ("Conv / s1", "1 × 1 × 1024 × 1024", "7 × 7 × 1024", 1),
        ("Avg Pool / s1", "Pool 7 × 7", "7 × 7 × 1024", 1),
        ("FC / s1", "1024 × 1000", "1 × 1 × 1024", 1),
        ("Softmax / s1", "Classifier", "1 × 1 × 1000", 1),
    ),
    (
        "The second-to-last depthwise row is printed with stride 2, but the next "
        "row's input is still 7 × 7 × 1024 and the average pool is 7 × 7, so it "
        "must have stride 1 (as in the released TF-Slim model)."
    ),
)

#: Table 2 of Howard et al. (2017), "Resource Per Layer Type", percentages.
MOBILENET_TABLE2_RESOURCES = _mobilenet(
    "Table 2",
    "Resource Per Layer Type",
    ("type", "mult-adds %", "parameters %"),
    (
        ("Conv 1 × 1", 94.86, 74.59),
        ("Conv DW 3 × 3", 3.06, 1.06),
        ("Conv 3 × 3", 1.19, 0.02),
        ("Fully Connected", 0.18, 24.33),
    ),
    (
        "The mult-adds column sums to 99.29 %, not 100 %: the first layer's share "
        "is 1.91 % when computed, so 1.19 looks like two transposed digits."
    ),
)

#: Table 3 of Howard et al. (2017): one 14 x 14 x 512 -> 512 layer, 3 x 3 kernel,
#: shrunk step by step (each row adds to the previous one). Millions.
MOBILENET_TABLE3_LAYER = _mobilenet(
    "Table 3",
    "Resource usage for modifications to standard convolution "
            "(D_K = 3, M = 512, N = 512, D_F = 14)",
    ("layer / modification", "million mult-adds", "million parameters"),
    (
        ("Convolution", 462.0, 2.36),
        ("Depthwise Separable Conv", 52.3, 0.27),
        ("α = 0.75", 29.6, 0.15),
        ("ρ = 0.714", 15.1, 0.15),
    ),
)

#: Table 4 of Howard et al. (2017), "Depthwise Separable vs Full Convolution MobileNet".
MOBILENET_TABLE4_CONV_VS_SEPARABLE = _results(
    "Table 4", "Depthwise Separable vs Full Convolution MobileNet", "model",
    ("Conv MobileNet", 71.7, 4866.0, 29.3),
    ("MobileNet", 70.6, 569.0, 4.2),
)

#: Table 5 of Howard et al. (2017), "Narrow vs Shallow MobileNet": the shallow
#: model drops the five separable layers at 14 x 14 x 512 of Table 1.
MOBILENET_TABLE5_SHALLOW = _results(
    "Table 5", "Narrow vs Shallow MobileNet", "model",
    ("0.75 MobileNet", 68.4, 325.0, 2.6),
    ("Shallow MobileNet", 65.3, 307.0, 2.9),
)

#: Table 6 of Howard et al. (2017), "MobileNet Width Multiplier" (224 x 224 input).
MOBILENET_TABLE6_WIDTH = _results(
    "Table 6", "MobileNet Width Multiplier", "width multiplier",
    (1.0, 70.6, 569.0, 4.2),
    (0.75, 68.4, 325.0, 2.6),
    (0.5, 63.7, 149.0, 1.3),
    (0.25, 50.6, 41.0, 0.5),
)

#: Table 7 of Howard et al. (2017), "MobileNet Resolution" (width multiplier 1.0).
MOBILENET_TABLE7_RESOLUTION = _results(
    "Table 7", "MobileNet Resolution", "resolution",
    (224, 70.6, 569.0, 4.2),
    (192, 69.1, 418.0, 4.2),
    (160, 67.2, 290.0, 4.2),
    (128, 64.4, 186.0, 4.2),
)

ALL_TABLES: tuple[PaperTable, ...] = (
    MOBILENET_TABLE1_BODY,
    MOBILENET_TABLE2_RESOURCES,
    MOBILENET_TABLE3_LAYER,
    MOBILENET_TABLE4_CONV_VS_SEPARABLE,
    MOBILENET_TABLE5_SHALLOW,
    MOBILENET_TABLE6_WIDTH,
    MOBILENET_TABLE7_RESOLUTION,
)


def table1_layers() -> list[tuple[str, str, str]]:
    """Table 1 with its "5x" rows written out: one ``(type / stride, filter
    shape, input size)`` row per layer, in order.

    The paper's bracketed pair (depthwise, pointwise) repeats as a pair, so the
    expansion alternates the two rows five times.
    """
    layers: list[tuple[str, str, str]] = []
    rows = MOBILENET_TABLE1_BODY.rows
    i = 0
    while i < len(rows):
        repeat = rows[i][3]
        if repeat == 1:
            layers.append(rows[i][:3])
            i += 1
            continue
        group = []
        while i + len(group) < len(rows) and rows[i + len(group)][3] == repeat:
            group.append(rows[i + len(group)])
        for _ in range(repeat):
            layers.extend(row[:3] for row in group)
        i += len(group)
    return layers


# --------------------------------------------------------------------------
# the same listing, read from a built model
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class TableRow:
    """One row of a Table-1-like listing of a model's layers.

    ``layer_type`` groups the rows ("Conv 1 × 1", "Conv DW 3 × 3", "Conv 3 × 3",
    "Fully Connected", or "Avg Pool");
    ``name`` is the module's name in the model (as in ``named_modules``);
    ``output_shape`` is the layer's output ``(channels, height, width)``
    (``(features, 1, 1)`` for the fully connected layer).
    """

    name: str
    type_stride: str
    filter_shape: str
    input_size: str
    layer_type: str
    output_shape: tuple[int, int, int]


def _times(*values: int) -> str:
    return " × ".join(str(v) for v in values)


def _describe_layer(module: nn.Module, in_shape: tuple[int, ...]) -> tuple[str, str, str, str]:
    """(type / stride, filter shape, input size, layer type) of one layer."""
    if isinstance(module, nn.Linear):
        return ("FC / s1", _times(module.in_features, module.out_features),
                _times(1, 1, module.in_features), "Fully Connected")
    _, channels, h, w = in_shape
    input_size = _times(h, w, channels)
    if isinstance(module, nn.AdaptiveAvgPool2d | nn.AvgPool2d):
        return "Avg Pool / s1", f"Pool {_times(h, w)}", input_size, "Avg Pool"
    assert isinstance(module, nn.Conv2d)
    kh, kw = module.kernel_size
    stride = module.stride[0]
    m, n, g = module.in_channels, module.out_channels, module.groups  # M, N, groups
    if g == m and g > 1 and n == m:
        return (f"Conv dw / s{stride}", f"{_times(kh, kw, m)} dw", input_size,
                f"Conv DW {_times(kh, kw)}")
    shape = _times(kh, kw, m // g, n) + (f" (groups {g})" if g > 1 else "")
    return f"Conv / s{stride}", shape, input_size, f"Conv {_times(kh, kw)}"


def mobilenet_v1_table(model: nn.Module, resolution: int = 224) -> list[TableRow]:
    """The layers of ``model`` as rows of the paper's Table 1 (type / stride,
    filter shape, input size), read from the model itself: one forward pass of a
    ``resolution x resolution`` image records every convolution, the average
    pool and the fully connected layer in the order they run.

    Works for any model whose layers are ``Conv2d``, average pools and
    ``Linear`` (MobileNetV1 and its twin in particular) and that takes 3-channel
    images; a model that cannot run on one is refused (ValueError). Every
    module's training/eval mode is left as it was. ``resolution`` is at most
    :data:`MAX_RESOLUTION`.
    """
    require_module(model, "model")
    resolution = require_positive_int(resolution, "resolution", maximum=MAX_RESOLUTION)
    names = {module: name for name, module in model.named_modules()}
    records: list[tuple[nn.Module, tuple[int, ...], tuple[int, int, int]]] = []
    layer_types = (nn.Conv2d, nn.Linear, nn.AdaptiveAvgPool2d, nn.AvgPool2d)

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        shape = tuple(output.shape[1:]) + (1,) * (4 - output.ndim)
        records.append((module, tuple(inputs[0].shape), shape))

    handles = [module.register_forward_hook(hook) for module in model.modules()
               if isinstance(module, layer_types)]
    first = next(model.parameters(), None)
    like = {} if first is None else {"dtype": first.dtype, "device": first.device}
    try:
        with evaluating(model), torch.no_grad():
            model(torch.zeros(1, 3, resolution, resolution, **like))
    except (RuntimeError, ValueError) as error:
        raise ValueError(f"model cannot run on a 3-channel {resolution} x {resolution} image "
                         f"(resolution={resolution}): {error}") from error
    finally:
        for handle in handles:
            handle.remove()
    return [TableRow(names[module], *_describe_layer(module, in_shape), out_shape)
            for module, in_shape, out_shape in records]
