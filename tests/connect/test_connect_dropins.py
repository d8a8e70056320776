"""The drop-ins behave as pyspark's own tuning classes on Spark Connect: the same checks as
``tests/test_dropins.py`` on the classic session (bodies in ``tests/dropins.py``)."""

from __future__ import annotations

import pytest
from dropins import (
    DROP_INS,
    check_empty_fold_goes_on,
    check_fold_col_out_of_range,
    check_model_round_trip,
    check_validator_round_trip,
)

pytestmark = pytest.mark.connect


@pytest.mark.parametrize("name", DROP_INS)
def test_unfitted_drop_in_saves_and_loads_as_itself_on_connect(spark, tmp_path, name):
    check_validator_round_trip(name, tmp_path)


@pytest.mark.parametrize("name", DROP_INS)
def test_fitted_drop_in_saves_as_pysparks_model_on_connect(spark, tmp_path, name):
    check_model_round_trip(name, spark, tmp_path)


def test_a_fold_with_no_validation_rows_goes_on_as_in_pyspark_on_connect(spark, caplog):
    check_empty_fold_goes_on(spark, caplog)


def test_fold_col_out_of_range_keeps_pysparks_words_on_connect(spark):
    check_fold_col_out_of_range(spark)
