"""Tests of helpers.lab.paper_tables: the published numbers are stored consistently."""

from __future__ import annotations

import pytest

from helpers.lab.paper_tables import (
    ALL_TABLES,
    MOBILENET_TABLE1_BODY,
    MOBILENET_TABLE2_RESOURCES,
    MOBILENET_TABLE4_CONV_VS_SEPARABLE,
    MOBILENET_TABLE6_WIDTH,
    MOBILENET_TABLE7_RESOLUTION,
    PaperTable,
    table1_layers,
)


def test_every_table_names_its_source():
    for table in ALL_TABLES:
        assert table.bibkey == "howard2017mobilenets"
        assert table.table.startswith("Table ")
        assert table.source == f"Howard et al. (2017), {table.table}"
        assert table.caption
        for row in table.rows:
            assert len(row) == len(table.columns)


def test_table_numbers_are_distinct():
    numbers = [table.table for table in ALL_TABLES]
    assert len(numbers) == len(set(numbers))


def test_row_and_column_lookup():
    assert MOBILENET_TABLE6_WIDTH.row(0.75)["million mult-adds"] == 325.0
    assert MOBILENET_TABLE7_RESOLUTION.column("resolution") == (224, 192, 160, 128)
    assert MOBILENET_TABLE4_CONV_VS_SEPARABLE.row("Conv MobileNet")["million parameters"] == 29.3
    with pytest.raises(KeyError, match="no row"):
        MOBILENET_TABLE6_WIDTH.row(0.6)
    with pytest.raises(KeyError, match="no column"):
        MOBILENET_TABLE6_WIDTH.column("latency")


def test_row_length_is_checked():
    with pytest.raises(ValueError, match="columns"):
        PaperTable("k", "A (2000)", "Table 1", "c", ("a", "b"), ((1,),))


def test_width_and_resolution_tables_share_the_baseline():
    baseline_width = MOBILENET_TABLE6_WIDTH.row(1.0)
    baseline_resolution = MOBILENET_TABLE7_RESOLUTION.row(224)
    baseline_table4 = MOBILENET_TABLE4_CONV_VS_SEPARABLE.row("MobileNet")
    for column in ("ImageNet accuracy %", "million mult-adds", "million parameters"):
        assert baseline_width[column] == baseline_resolution[column] == baseline_table4[column]


def test_parameters_do_not_depend_on_resolution():
    assert set(MOBILENET_TABLE7_RESOLUTION.column("million parameters")) == {4.2}


def test_table2_parameter_shares_sum_to_100_but_macs_do_not():
    params = sum(MOBILENET_TABLE2_RESOURCES.column("parameters %"))
    macs = sum(MOBILENET_TABLE2_RESOURCES.column("mult-adds %"))
    assert params == pytest.approx(100.0, abs=0.01)
    # As printed the mult-adds column is 0.71 short of 100: the 1.19 typo.
    assert macs == pytest.approx(99.29, abs=0.001)
    assert "1.19" in MOBILENET_TABLE2_RESOURCES.note


def test_table1_expands_to_28_layers_plus_head():
    layers = table1_layers()
    convs = [row for row in layers if row[0].startswith("Conv")]
    assert len(convs) == 27  # 1 normal + 13 depthwise + 13 pointwise
    assert len(layers) == 30  # + average pool, fully connected, softmax
    # The five repeated pairs alternate depthwise and pointwise.
    repeated = layers[13:23]
    assert [row[0] for row in repeated] == ["Conv dw / s1", "Conv / s1"] * 5
    assert all(row[2] == "14 × 14 × 512" for row in repeated)


def test_table1_has_the_known_stride_typo():
    rows = MOBILENET_TABLE1_BODY.rows
    typo = rows[-5]
    assert typo[:3] == ("Conv dw / s2", "3 × 3 × 1024 dw", "7 × 7 × 1024")
    # The layer after it still sees 7 x 7: the stride cannot really be 2.
    assert rows[-4][2] == "7 × 7 × 1024"
    assert "stride 1" in MOBILENET_TABLE1_BODY.note


def test_table5_shallow_row():
    from helpers.lab.paper_tables import MOBILENET_TABLE5_SHALLOW

    assert MOBILENET_TABLE5_SHALLOW.row("Shallow MobileNet")["million mult-adds"] == 307.0
    assert MOBILENET_TABLE5_SHALLOW.row("0.75 MobileNet")["million mult-adds"] == \
        MOBILENET_TABLE6_WIDTH.row(0.75)["million mult-adds"]
