"""End to end: ``rmtfit.analyze`` and the ``rmtfit analyze`` command run every real stage.

The report tests (tests/report/) check the writers on constructed analyses; these run the real
pipeline (spectra -> classical -> NUTS -> comparison -> phases -> report) on small inputs with
short chains, so they check the coupling between the stages, not the statistics.
"""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pandas as pd
import pytest

import rmtfit
from rmtfit.cli import main
from rmtfit.report import load_schema
from rmtfit.spectra import default_network_path

SHORT = {"draws": 200, "chains": 2}
# Short chains are deliberate here (this file checks the coupling of the stages, not the
# statistics): they cannot reach a bulk ESS of 400, so the engine flags them and warns.
pytestmark = [
    pytest.mark.filterwarnings("ignore::rmtfit.inference.DiagnosticsWarning"),
    pytest.mark.filterwarnings("ignore::rmtfit.comparison.HighParetoKWarning"),
]


def _weights(seed: int = 0) -> dict[str, np.ndarray]:
    """A Gaussian layer, a layer with three planted spikes, and one NaN layer."""
    rng = np.random.default_rng(seed)
    gauss = rng.normal(size=(300, 100))
    u = np.linalg.qr(rng.normal(size=(300, 3)))[0]
    v = np.linalg.qr(rng.normal(size=(100, 3)))[0]
    spiked = rng.normal(size=(300, 100)) + u @ np.diag([60.0, 50.0, 40.0]) @ v.T
    broken = rng.normal(size=(120, 60))
    broken[3, 4] = np.nan
    return {"gauss.weight": gauss, "spiked.weight": spiked, "broken.weight": broken}


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    out = tmp_path_factory.mktemp("full") / "report"
    analysis = rmtfit.analyze(_weights(), out=out, plots=True, seed=3, quiet=True, **SHORT)
    return analysis, out


def test_full_analysis_marks_the_nan_layer_failed_and_goes_on(full):
    analysis, _ = full
    assert analysis.exit_code == 1
    broken = analysis.layer("broken.weight")
    assert broken.status == "failed"
    assert "1 NaN" in broken.reason
    assert analysis.layer("gauss.weight").ok and analysis.layer("spiked.weight").ok


def test_full_report_validates_and_carries_posteriors_models_and_phases(full):
    analysis, out = full
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, load_schema())
    assert report["mode"] == "full"
    layers = {layer["name"]: layer for layer in report["layers"]}
    for name in ("gauss.weight", "spiked.weight"):
        layer = layers[name]
        probabilities = layer["phase"]["probabilities"]
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-9)
        assert layer["phase"]["map"] in rmtfit.PHASES
        weights = [m["weight"] for m in layer["models"].values() if m["family"] == "full"]
        assert sum(weights) == pytest.approx(1.0, abs=1e-6)
        _assert_interval_of_the_stored_draws(analysis, name, layer["posterior"]["lambda_plus"])
    assert layers["broken.weight"]["status"] == "failed"
    for name in ("report.html", "layers.csv", "fits.nc"):
        assert (out / name).stat().st_size > 0
    assert list((out / "plots").glob("*.png"))


def _assert_interval_of_the_stored_draws(analysis, layer, estimate):
    """The report's lambda_plus summarises the stored draws of the bulk edge of the fit it names:
    mean, sd and the equal-tailed ``ci_prob`` quantiles."""
    from rmtfit.posterior import likelihood_roles

    lik = estimate["likelihood"]
    variable = likelihood_roles(lik, analysis.fits.idata(layer, lik)).variable("bulk_edge")
    draws = np.asarray(analysis.fits.draws(layer, lik, variable), dtype=np.float64).ravel()
    assert draws.size >= SHORT["draws"] * SHORT["chains"]  # more where a retry ran longer
    tail = (1.0 - analysis.ci_prob) / 2.0
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    assert (estimate["ci_low"], estimate["ci_high"]) == (low, high)
    assert estimate["mean"] == pytest.approx(np.mean(draws), rel=1e-12)
    assert estimate["sd"] == pytest.approx(np.std(draws, ddof=1), rel=1e-12)


def test_full_analysis_recovers_the_mp_scale_and_edge_of_both_layers(full):
    """Both layers have unit-variance entries (the spikes are rank 3): sigma_mp = 1 and the bulk
    edge (sqrt N + sqrt M)^2 = 746.4, each within 4 posterior sd of the posterior mean."""
    analysis, _ = full
    edge = (np.sqrt(300) + np.sqrt(100)) ** 2
    for name in ("gauss.weight", "spiked.weight"):
        post = analysis.layer(name).posterior
        assert abs(post["sigma_mp"].mean - 1.0) < 4 * post["sigma_mp"].sd, post["sigma_mp"]
        assert abs(post["lambda_plus"].mean - edge) < 4 * post["lambda_plus"].sd, post


def test_full_analysis_sees_the_planted_spikes(full):
    analysis, _ = full
    spiked = analysis.layer("spiked.weight")
    # three spikes far above the BBP threshold: the spike count's posterior mean is near 3
    assert spiked.posterior["num_spikes"].mean == pytest.approx(3.0, abs=0.5)
    assert spiked.phase["probabilities"]["bulk_spikes"] > 0.5
    gauss = analysis.layer("gauss.weight")
    assert gauss.phase["probabilities"]["random_like"] > 0.5


def test_layers_csv_has_one_row_per_analysed_layer(full):
    _, out = full
    table = pd.read_csv(out / "layers.csv")
    assert sorted(table["name"]) == ["broken.weight", "gauss.weight", "spiked.weight"]


def test_cli_fast_mode_on_the_embedded_network(tmp_path, capsys):
    code = main(
        ["analyze", str(default_network_path()), "--fast", "--quiet", "--out", str(tmp_path)]
    )
    assert code == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["mode"] == "fast"
    assert all(layer["phase"] is None for layer in report["layers"])


def test_loo_of_real_fits_agrees_with_arviz_compare(full):
    import warnings

    import arviz as az

    from rmtfit.comparison import compare

    analysis, _ = full
    fits = analysis.fits
    idatas = {n: fits.idata("spiked.weight", n) for n in ("mp_spikes", "spliced_pl")}
    ours = compare(idatas, layer="spiked.weight", family="full")
    with warnings.catch_warnings():
        # arviz 0.23 calls DataFrame.sort_values(inplace=True), deprecated in pandas 3
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        reference = az.compare(idatas, ic="loo")
    for score in ours.models:
        assert score.elpd_loo == pytest.approx(reference.loc[score.name, "elpd_loo"], abs=1e-8)
        assert score.se == pytest.approx(reference.loc[score.name, "se"], abs=1e-8)


def test_cli_on_a_checkpoint_with_a_nan_layer_exits_1_and_writes_the_report(tmp_path):
    checkpoint = tmp_path / "net.npz"
    np.savez(checkpoint, **_weights())
    out = tmp_path / "out"
    code = main(["analyze", str(checkpoint), "--fast", "--quiet", "--no-plots", "--out", str(out)])
    assert code == 1
    report = json.loads((out / "report.json").read_text())
    layers = {layer["name"]: layer for layer in report["layers"]}
    assert layers["broken.weight"]["status"] == "failed"
    assert "NaN" in layers["broken.weight"]["reason"]
    assert layers["gauss.weight"]["status"] == "ok"
    assert (out / "report.html").exists()


def test_num_spikes_is_the_count_the_phase_label_rests_on(full):
    """The report's spike count is the phase's count beyond the bulk edge and its TW band, so a
    layer labelled Bulk+Spikes never shows more spikes than the label allows."""
    analysis, _ = full
    for layer in analysis.layers:
        if layer.phase is None or layer.posterior is None:
            continue
        phase = analysis.phases[layer.name]
        estimate = layer.posterior["num_spikes"]
        assert estimate.mean == pytest.approx(phase.num_spikes_mean, rel=1e-9, abs=1e-9)
        assert estimate.ci_low <= phase.num_spikes_map <= estimate.ci_high


def test_estimate_from_a_discrete_distribution_is_exact():
    from rmtfit.pipeline import Estimate

    e = Estimate.from_distribution({0: 0.02, 3: 0.9, 4: 0.08}, 0.9)
    assert e.mean == pytest.approx(3 * 0.9 + 4 * 0.08)
    assert (e.ci_low, e.ci_high) == (3.0, 4.0)
    assert Estimate.from_distribution({5: 1.0}, 0.9).sd == 0.0
