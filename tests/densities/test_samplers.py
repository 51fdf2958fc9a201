"""Tier 2 for the densities: draws pass a Kolmogorov-Smirnov test against the law's own CDF.

Fixed seeds; each sampler is jitted once with its parameters as arguments.
"""

from __future__ import annotations

from functools import cache, partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from rmtfit import densities as d

NUM = 3000
P_MIN = 1e-3

# name: (sampler(key, *params, shape), cdf(x, *params), parameter points)
CASES = {
    "power_law": (d.power_law_sample, d.power_law_cdf, [(1.05, 3.0), (3.5, 0.2)]),
    "truncated_power_law": (
        d.truncated_power_law_sample,
        d.truncated_power_law_cdf,
        [(-0.5, 2.0, 2e3), (0.3, 2.0, 2e3), (1.0, 2.0, 2e3), (2.5, 1.0, 50.0)],
    ),
    "cutoff_power_law": (
        d.cutoff_power_law_sample,
        d.cutoff_power_law_cdf,
        [(0.3, 0.01, 1.0), (1.0, 0.5, 1.0), (2.5, 1e-3, 1.0), (6.0, 2000.0, 1.0)],
    ),
    "lognormal": (
        d.lognormal_sample,
        d.lognormal_cdf,
        [(0.0, 1.0, 2.0), (-5.0, 0.5, 1.0)],
    ),
    "exponential": (d.exponential_sample, d.exponential_cdf, [(0.5, 1.0)]),
    "stretched_exponential": (
        d.stretched_exponential_sample,
        d.stretched_exponential_cdf,
        [(0.3, 1.0, 2.0), (1.7, 5.0, 1.0)],
    ),
    "mp": (d.mp_sample, d.mp_cdf, [(1.0, 100.0, 1.0), (0.3, 1000.0, 10.0)]),
    "mp_soft": (
        d.mp_soft_sample,
        d.mp_soft_cdf,
        [(1.0, 100.0, 1.0), (0.3, 1536.0, 10.0), (2.0, 30.0, 1.2)],
    ),
    "frechet": (d.frechet_sample, d.frechet_cdf, [(0.5, 2.0), (3.0, 1.0)]),
}
POINTS = [(name, p) for name, case in CASES.items() for p in case[2]]


@cache
def _sampler(name, n_params):
    sample = CASES[name][0]
    if name == "mp_soft":
        return jax.jit(lambda key, *p: sample(key, *p, shape=(NUM,)))
    return jax.jit(lambda key, *p: sample(key, *p, (NUM,)))


@cache
def _cdf(name):
    return jax.jit(CASES[name][1])


@pytest.mark.parametrize(("name", "params"), POINTS)
def test_sampler_passes_ks_against_its_cdf(name, params):
    draws = np.asarray(_sampler(name, len(params))(jax.random.PRNGKey(7), *params))
    assert np.all(np.isfinite(draws))
    cdf = _cdf(name)
    p_value = stats.kstest(draws, lambda x: np.asarray(cdf(jnp.asarray(x), *params))).pvalue
    assert p_value > P_MIN, (name, params, p_value)


def test_truncated_and_cutoff_samplers_stay_in_their_support():
    key = jax.random.PRNGKey(1)
    truncated = jax.jit(lambda k: d.truncated_power_law_sample(k, 1.0, 2.0, 5.0, (500,)))
    draws = np.asarray(truncated(key))
    assert draws.min() >= 2.0 and draws.max() <= 5.0
    draws = np.asarray(_sampler("cutoff_power_law", 3)(key, 0.3, 10.0, 2.0))
    assert draws.min() >= 2.0


def test_truncated_soft_mp_sampler_respects_the_upper_bound():
    sigma2, n_rows, q = 1.0, 200.0, 2.0
    upper = 0.8 * float(d.mp_edges(sigma2, n_rows, q)[1])
    sample = jax.jit(lambda k: d.mp_soft_sample(k, sigma2, n_rows, q, shape=(NUM,), upper=upper))
    draws = np.asarray(sample(jax.random.PRNGKey(3)))
    assert draws.max() <= upper
    cdf = jax.jit(partial(d.mp_soft_cdf, sigma2=sigma2, n_rows=n_rows, q_ratio=q))
    top = float(cdf(upper))
    p_value = stats.kstest(draws, lambda x: np.asarray(cdf(jnp.asarray(x))) / top).pvalue
    assert p_value > P_MIN


def test_tracy_widom_sampler_matches_its_cdf():
    draws = np.asarray(jax.jit(lambda k: d.tracy_widom1_sample(k, (NUM,)))(jax.random.PRNGKey(5)))
    cdf = jax.jit(d.tracy_widom1_cdf)
    assert stats.kstest(draws, lambda t: np.asarray(cdf(jnp.asarray(t)))).pvalue > P_MIN


def test_frechet_topk_sampler_matches_the_marginal_and_the_order_statistics():
    shape, scale, k = 2.0, 10.0, 25
    sets = np.asarray(d.frechet_topk_sample(jax.random.PRNGKey(11), shape, scale, k, (NUM,)))
    assert sets.shape == (NUM, k) and np.all(np.diff(sets, axis=1) <= 0)  # largest first
    # the largest is Frechet; one picked at random follows the marginal
    assert (
        stats.kstest(sets[:, 0], lambda x: np.asarray(d.frechet_cdf(x, shape, scale))).pvalue
        > P_MIN
    )
    picked = sets[np.arange(NUM), np.random.default_rng(0).integers(0, k, NUM)]
    marginal = jax.jit(partial(d.frechet_topk_marginal_cdf, k_max=k))
    p_value = stats.kstest(
        picked, lambda x: np.asarray(marginal(jnp.asarray(x), shape, scale))
    ).pvalue
    assert p_value > P_MIN


def test_mp_law_describes_eigenvalues_of_a_gaussian_matrix_in_raw_units():
    rng = np.random.default_rng(0)
    n_rows, n_cols, sigma2 = 2000, 500, 0.04
    w = rng.normal(scale=np.sqrt(sigma2), size=(n_rows, n_cols))
    eigenvalues = np.linalg.eigvalsh(w.T @ w)  # no 1/N: raw units, as rmtfit stores them
    q = n_rows / n_cols
    assert eigenvalues.mean() == pytest.approx(n_rows * sigma2, rel=0.01)
    lower, upper = (float(v) for v in d.mp_edges(sigma2, n_rows, q))
    assert eigenvalues.max() == pytest.approx(upper, rel=0.02)
    assert eigenvalues.min() == pytest.approx(lower, rel=0.05)
    p_value = stats.kstest(eigenvalues, lambda x: np.asarray(d.mp_cdf(x, sigma2, n_rows, q))).pvalue
    assert p_value > P_MIN
