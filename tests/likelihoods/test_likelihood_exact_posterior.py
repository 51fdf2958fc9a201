"""The power law's conjugate oracle: the exact posterior of alpha with xmin fixed.

The reference is built here, independently of rmtfit's Gamma shortcut: the unnormalised
posterior, the likelihood prod (alpha - 1)/xmin (x/xmin)^-alpha times the declared prior's
kernel 1/(alpha - 1), written out below, is integrated numerically on a fine grid of alpha over
the prior's range (scipy's cumulative trapezoid rule; 200 001 nodes, error ~ 1e-9).
"""

from __future__ import annotations

import numpy as np
from scipy import integrate, stats

from rmtfit.likelihoods import get_likelihood
from rmtfit.likelihoods._check import synthetic_layer


def grid_posterior_cdf(x: np.ndarray, xmin: float, low: float, high: float):
    """(alpha grid, CDF on it) of likelihood x Jeffreys prior on (low, high), by quadrature."""
    alpha = np.linspace(low, high, 200_001)
    log_likelihood = x.size * np.log((alpha - 1.0) / xmin) - alpha * np.sum(np.log(x / xmin))
    log_post = log_likelihood - np.log(alpha - 1.0)
    cdf = integrate.cumulative_trapezoid(np.exp(log_post - log_post.max()), alpha, initial=0.0)
    return alpha, cdf / cdf[-1]


def _layer(seed):
    lik = get_likelihood("power_law")
    spectrum, classical = synthetic_layer(seed)
    x = lik.observations(spectrum, classical)
    ctx = lik.context(x, spectrum, classical)
    constraint = lik.parameter("alpha").constraint
    grid, cdf = grid_posterior_cdf(
        x, ctx["xmin"], float(constraint.lower_bound), float(constraint.upper_bound)
    )
    return lik, x, ctx, grid, cdf


def test_exact_posterior_draws_follow_the_posterior_integrated_on_a_grid():
    lik, x, ctx, grid, cdf = _layer(0)
    draws = lik.exact_posterior(x, ctx, 4000, seed=3)["alpha"]
    assert draws.shape == (4000,)
    assert stats.kstest(draws, lambda a: np.interp(a, grid, cdf)).pvalue > 1e-3
    # the posterior mean by quadrature; the draws' mean within 4 Monte-Carlo standard errors
    mean = integrate.trapezoid(grid * np.gradient(cdf, grid), grid)
    sd = np.sqrt(integrate.trapezoid((grid - mean) ** 2 * np.gradient(cdf, grid), grid))
    assert abs(draws.mean() - mean) < 4 * sd / np.sqrt(draws.size), (draws.mean(), mean, sd)
    # the same seed gives the same draws
    again = lik.exact_posterior(x, ctx, 4000, seed=3)["alpha"]
    np.testing.assert_array_equal(draws, again)


def test_exact_posterior_cdf_equals_the_integrated_posterior():
    for seed in (0, 1):
        lik, x, ctx, grid, cdf = _layer(seed)
        at = np.interp([0.001, 0.05, 0.25, 0.5, 0.75, 0.95, 0.999], cdf, grid)  # its quantiles
        got = lik.exact_posterior_cdf(at, x, ctx)
        np.testing.assert_allclose(got, np.interp(at, grid, cdf), atol=1e-7)


def test_exact_posterior_density_is_the_normalised_likelihood_times_prior():
    lik, x, ctx, *_ = _layer(1)
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
