"""The softened MP CDF's custom derivative: d/dx F = f (the closed-form density), checked against
central finite differences of the CDF itself (the quadrature), in x and in sigma2."""

import jax
import numpy as np
import pytest

from rmtfit import densities as d


@pytest.mark.parametrize(("n_rows", "q_ratio"), [(400.0, 2.0), (300.0, 1.0), (1000.0, 8.0)])
def test_cdf_gradient_is_the_density_and_matches_finite_differences(n_rows, q_ratio):
    sigma2 = 0.7
    lower, upper = (float(e) for e in d.mp_edges(sigma2, n_rows, q_ratio))
    xs = np.linspace(lower + 0.05 * (upper - lower), upper * 1.02, 9)
    log_z = float(d.mp_soft_log_normaliser(n_rows, q_ratio))

    def cdf(x, s2):
        return d.mp_soft_cdf(x, s2, n_rows, q_ratio, log_normaliser=log_z)

    grad_x = jax.vmap(jax.grad(cdf, argnums=0), in_axes=(0, None))(xs, sigma2)
    grad_s = jax.vmap(jax.grad(cdf, argnums=1), in_axes=(0, None))(xs, sigma2)
    density = np.exp(np.asarray(d.mp_soft_logpdf(xs, sigma2, n_rows, q_ratio)))
    np.testing.assert_allclose(np.asarray(grad_x), density, rtol=1e-10, atol=0.0)
    for x, gx, gs in zip(xs, np.asarray(grad_x), np.asarray(grad_s), strict=True):
        h = 1e-5 * x
        fd_x = (float(cdf(x + h, sigma2)) - float(cdf(x - h, sigma2))) / (2 * h)
        hs = 1e-6 * sigma2
        fd_s = (float(cdf(x, sigma2 + hs)) - float(cdf(x, sigma2 - hs))) / (2 * hs)
        assert abs(gx - fd_x) <= 1e-5 * max(abs(fd_x), 1e-3 * float(density.max())), (x, gx, fd_x)
        assert abs(gs - fd_s) <= 1e-5 * max(abs(fd_s), 1e-3), (x, gs, fd_s)
        # F depends on x / sigma2 only: x dF/dx = -sigma2 dF/dsigma2
        assert abs(x * gx + sigma2 * gs) <= 1e-9 * max(abs(x * gx), 1e-12)


def test_the_given_normaliser_changes_nothing():
    x = np.linspace(50.0, 1300.0, 7)
    with_z = d.mp_soft_cdf(x, 1.0, 400.0, 2.0, log_normaliser=d.mp_soft_log_normaliser(400.0, 2.0))
    np.testing.assert_allclose(
        np.asarray(with_z), np.asarray(d.mp_soft_cdf(x, 1.0, 400.0, 2.0)), rtol=1e-14
    )
