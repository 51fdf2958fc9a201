"""The power law's conjugate oracle: the exact posterior of alpha with xmin fixed."""

from __future__ import annotations

import numpy as np
from scipy import stats

from rmtfit.likelihoods import get_likelihood
from rmtfit.likelihoods._check import synthetic_layer


def test_exact_posterior_draws_follow_the_truncated_gamma_law():
    lik = get_likelihood("power_law")
    spectrum, classical = synthetic_layer(0)
    x = lik.observations(spectrum, classical)
    ctx = lik.context(x, spectrum, classical)
    draws = lik.exact_posterior(x, ctx, 4000, seed=3)["alpha"]
    assert draws.shape == (4000,) and np.all((draws > 1.01) & (draws < 12.0))
    cdf = lik.exact_posterior_cdf
    assert stats.kstest(draws, lambda a: cdf(a, x, ctx)).pvalue > 1e-3
    # far from the prior bounds the truncation does not matter: Gamma(n, sum log(x / xmin))
    gamma = stats.gamma(a=x.size, scale=1.0 / np.sum(np.log(x / ctx["xmin"])))
    assert abs(draws.mean() - 1.0 - gamma.mean()) < 4 * gamma.std() / np.sqrt(draws.size)
    # the same seed gives the same draws
    again = lik.exact_posterior(x, ctx, 4000, seed=3)["alpha"]
    np.testing.assert_array_equal(draws, again)


def test_exact_posterior_density_is_the_normalised_likelihood_times_prior():
    lik = get_likelihood("power_law")
    spectrum, classical = synthetic_layer(1)
    x = lik.observations(spectrum, classical)
    ctx = lik.context(x, spectrum, classical)
    grid = np.linspace(1.5, 5.0, 8)
    log_post = np.array(
        [
            float(np.sum(lik.logpdf(x, {"alpha": a}, ctx)))
            + float(lik.parameter("alpha").prior(ctx).log_prob(a))
            for a in grid
        ]
    )
    # numerical derivative of the exact CDF is the posterior density, up to a constant
    cdf = lik.exact_posterior_cdf
    h = 1e-5
    density = (cdf(grid + h, x, ctx) - cdf(grid - h, x, ctx)) / (2 * h)
    ratio = np.log(density) - log_post
    assert np.ptp(ratio) < 1e-5
