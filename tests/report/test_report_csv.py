"""layers.csv: opens in pandas, one row per analysed layer, the same columns in both modes."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from rmtfit.report import CSV_COLUMNS, layers_csv
from rmtfit.report._json import PHASES

WEIGHTWATCHER_COLUMNS = (
    "layer_id",
    "name",
    "N",
    "M",
    "Q",
    "alpha",
    "xmin",
    "D",
    "sigma_mp",
    "num_spikes",
    "lambda_max",
    "log_norm",
    "log_spectral_norm",
    "stable_rank",
    "entropy",
    "rank_loss",
)


def _read(analysis) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(layers_csv(analysis)), keep_default_na=True)


def test_csv_opens_in_pandas_with_one_row_per_analysed_layer(analysis):
    df = _read(analysis)
    assert tuple(df.columns) == CSV_COLUMNS
    assert list(df["name"]) == [r.name for r in analysis.analysed]
    assert "encoder.0.bias" not in set(df["name"])  # skipped tensors live in report.json
    for column in WEIGHTWATCHER_COLUMNS:
        assert column in df.columns


def test_csv_values_are_the_analysis_values(analysis):
    df = _read(analysis).set_index("name")
    for layer in analysis.layers:
        if not layer.ok:
            continue
        row = df.loc[layer.name]
        assert row["alpha"] == pytest.approx(layer.classical.alpha, rel=1e-12)
        assert row["lambda_max"] == pytest.approx(layer.metrics["lambda_max"], rel=1e-12)
        assert row["Q"] == pytest.approx(layer.N / layer.M)
        assert row["num_spikes"] == layer.classical.num_spikes


def test_failed_layer_row_has_status_and_reason(fast_analysis):
    df = _read(fast_analysis).set_index("name")
    row = df.loc["broken.weight"]
    assert row["status"] == "failed"
    assert "NaN" in row["reason"]
    assert np.isnan(row["alpha"])


def test_fast_mode_leaves_posterior_and_phase_columns_empty(fast_analysis):
    df = _read(fast_analysis)
    assert df["alpha_ci_low"].isna().all()
    assert df[[f"p_{p}" for p in PHASES]].isna().all().all()


def test_full_mode_has_credible_intervals_and_phase_probabilities(full_analysis):
    df = _read(full_analysis)
    ok = df[df["status"] == "ok"]
    assert (ok["alpha_ci_low"] <= ok["alpha_mean"]).all()
    assert (ok["alpha_mean"] <= ok["alpha_ci_high"]).all()
    probs = ok[[f"p_{p}" for p in PHASES]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    assert set(ok["phase_map"]) <= set(PHASES)
    assert ok["xmin_mean"].isna().all()  # no fitted likelihood estimated xmin in this analysis
