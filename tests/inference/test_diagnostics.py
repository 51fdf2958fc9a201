"""Convergence diagnostics: the vectorised R-hat/ESS agree with ArviZ; bad fits are retried once
and what stays bad is flagged, warned about and kept."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import power_law_layers

import rmtfit
from rmtfit.inference import DiagnosticsWarning, _diagnostics, _engine
from rmtfit.inference import arviz_adapter as _arviz


def _ar1(rng, phi, chains, draws, shift=None):
    x = np.empty((chains, draws))
    x[:, 0] = rng.normal(size=chains)
    noise = rng.normal(size=(chains, draws)) * np.sqrt(1 - phi**2)
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    if shift is not None:
        x += np.asarray(shift)[:, None]
    return x


@pytest.mark.parametrize(
    ("phi", "shift", "draws"),
    [(0.0, None, 500), (0.7, None, 1000), (0.95, None, 400), (0.3, [0, 0, 0, 0.8], 301)],
)
def test_vectorised_diagnostics_match_arviz(phi, shift, draws):
    rng = np.random.default_rng(3)
    series = np.stack([_ar1(rng, phi, 4, draws, shift) for _ in range(3)])
    ours = _arviz.diagnostics(series)
    for i in range(series.shape[0]):
        ref = _arviz.reference_diagnostics(series[i])
        for name, value in ref.items():
            assert ours[name][i] == pytest.approx(value, rel=1e-8), name


def test_diagnostics_of_rounded_draws_with_ties_match_arviz():
    rng = np.random.default_rng(4)
    series = np.round(_ar1(rng, 0.5, 4, 200), 1)  # many ties: ranks are averaged
    ours = _arviz.diagnostics(series[None])
    ref = _arviz.reference_diagnostics(series)
    for name, value in ref.items():
        assert ours[name][0] == pytest.approx(value, rel=1e-8), name


def test_rules_name_each_failure():
    ok = {"alpha": {"r_hat": 1.001, "ess_bulk": 1500.0}}
    assert _diagnostics.problems(["alpha"], ok, 0, 4000) == []
    bad = {"alpha": {"r_hat": 1.02, "ess_bulk": 399.0}, "rate": {"r_hat": np.nan, "ess_bulk": 900}}
    out = _diagnostics.problems(["alpha", "rate"], bad, 3, 4000)
    assert out == [
        "r_hat of alpha = 1.020 > 1.01",
        "ess_bulk of alpha = 399 < 400",
        "r_hat of rate is undefined (the chains did not move)",
        "3 divergent transitions out of 4000",
    ]


def test_too_short_chains_are_retried_then_flagged_and_kept():
    # 4 x 30 draws: the ESS estimator caps ESS at 120 * log10(120) < 400, so the rule must fire
    spectra, classical = power_law_layers([3.0], [100], seed=2)
    with pytest.warns(
        DiagnosticsWarning, match=r"layer 'l0', likelihood 'power_law'.*ess_bulk"
    ) as rec:
        fits = rmtfit.fit(
            spectra,
            "power_law",
            classical=classical,
            draws=30,
            warmup=200,
            chains=4,
            exact=False,
            extend=0,
        )
    assert rec[0].filename == __file__  # the warning points at the caller's line
    assert fits.status("l0", "power_law") == "flagged"
    reason = fits.reason("l0", "power_law")
    assert "ess_bulk of alpha" in reason
    assert "after a retry with new chains, target_accept=0.95" in reason
    f = fits["l0", "power_law"]  # the draws are kept and reported
    assert f.posterior["alpha"].shape == (4, 30)
    assert (f.attrs["attempt"], f.attrs["warmup"], f.attrs["target_accept"]) == (1, 200, 0.95)
    assert str(fits.summary["status"].sel(layer="l0", likelihood="power_law").item()) == "flagged"
    assert fits.idata("l0", "power_law").posterior.attrs["status"] == "flagged"


def test_retry_false_flags_without_a_second_attempt():
    spectra, classical = power_law_layers([3.0], [100], seed=2)
    with pytest.warns(DiagnosticsWarning, match=r"\(retry=False\)"):
        fits = rmtfit.fit(
            spectra,
            "power_law",
            classical=classical,
            draws=30,
            warmup=200,
            chains=4,
            retry=False,
            exact=False,
        )
    assert fits["l0", "power_law"].attrs["attempt"] == 0


def test_a_pair_fixed_by_the_retry_is_ok_and_says_so(monkeypatch):
    """The first attempt is made to look bad; the retry's draws replace it."""
    real_check = _engine._check

    def first_attempt_bad(fits):
        out = real_check(fits)
        for key, f in fits.items():
            if f.attrs["attempt"] == 0 and key[0] == "l1":
                out[key] = ["2 divergent transitions out of 4000"]
        return out

    monkeypatch.setattr(_engine, "_check", first_attempt_bad)
    spectra, classical = power_law_layers([2.5, 3.0, 4.0], [60, 200, 400], seed=1)
    fits = rmtfit.fit(spectra, "power_law", classical=classical, seed=7, warmup=500, exact=False)
    assert fits.status("l1", "power_law") == "ok"
    assert fits.reason("l1", "power_law") == (
        "ok after a retry (first attempt: 2 divergent transitions out of 4000)"
    )
    assert fits["l1", "power_law"].attrs["attempt"] == 1
    assert fits["l1", "power_law"].attrs["target_accept"] == 0.95  # same warmup, new chains
    assert fits["l1", "power_law"].attrs["warmup"] == 500
    assert fits["l0", "power_law"].attrs["attempt"] == 0  # only the bad pair is re-run
    assert fits.reason("l0", "power_law") == ""
