"""The PyMC backend samples the same registered JAX likelihood: its posterior agrees with the
NumPyro engine's (posterior means within 3 Monte Carlo standard errors of each other)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import power_law_layers

import rmtfit
from rmtfit.inference import arviz_adapter as _arviz

pytest.importorskip("pymc")

SMALL = {"draws": 1000, "warmup": 500, "chains": 2, "exact": False}


@pytest.mark.parametrize(
    "likelihood", ["power_law", pytest.param("cutoff_power_law", marks=pytest.mark.slow)]
)
def test_numpyro_and_pymc_posteriors_agree(likelihood):
    spectra, classical = power_law_layers([2.7], [150], seed=21)
    kwargs = {"classical": classical, "seed": 5, **SMALL}
    ours = rmtfit.fit(spectra, likelihood, backend="numpyro", **kwargs)
    theirs = rmtfit.fit(spectra, likelihood, backend="pymc", **kwargs)
    assert theirs.status("l0", likelihood) in ("ok", "flagged"), theirs.reason("l0", likelihood)
    assert theirs["l0", likelihood].attrs["sampler"] == "pymc"
    assert theirs.settings["backend"] == "pymc"
    for name in rmtfit.get_likelihood(likelihood).parameter_names:
        a = ours.draws("l0", likelihood, name)
        b = theirs.draws("l0", likelihood, name)
        assert b.shape == a.shape
        mcse = np.hypot(float(_arviz.mcse_mean(a)), float(_arviz.mcse_mean(b)))
        assert abs(a.mean() - b.mean()) < 3 * mcse, (name, a.mean(), b.mean(), mcse)
        # the spread agrees too (sd within 10%: both are estimates from ~1000+ effective draws)
        assert b.std() == pytest.approx(a.std(), rel=0.1), name
    # the pointwise log-likelihood comes from the same likelihood at PyMC's draws
    lik = rmtfit.get_likelihood(likelihood)
    f = theirs["l0", likelihood]
    params = {n: f.posterior[n][1, 9] for n in lik.parameter_names}
    context = dict(f.context)
    expected = np.asarray(lik.logpdf(spectra[0].eigenvalues, params, context))
    np.testing.assert_allclose(f.log_likelihood[1, 9], expected, rtol=1e-10)
