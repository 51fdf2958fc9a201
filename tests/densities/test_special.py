"""Special functions against mpmath: the upper incomplete gamma for shape <= 0 above all."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest

from rmtfit.densities import exprel, log1mexp, log_exprel, log_upper_gamma, log_upper_gamma_scaled

SHAPES = np.array([-50.0, -20.5, -10.0, -3.3, -1.0, -0.5, -1e-9, 0.0, 1e-9, 0.3, 0.5, 1.0, 1.5])
POINTS = np.array([1e-12, 1e-6, 1e-3, 0.1, 0.5, 1.0, 1.999, 2.0, 2.001, 5.0, 20.0, 100.0, 1e4])


def _mp_log_upper_gamma(s: float, x: float) -> float:
    with mpmath.workdps(40):
        return float(mpmath.log(mpmath.gammainc(mpmath.mpf(s), mpmath.mpf(x))))


def test_log_upper_gamma_matches_mpmath_to_1e10_relative():
    s, x = np.meshgrid(SHAPES, POINTS)
    got = np.asarray(jax.jit(log_upper_gamma)(s, x))
    ref = np.vectorize(_mp_log_upper_gamma)(s, x)
    relative = np.abs(np.expm1(got - ref))
    worst = np.unravel_index(np.argmax(relative), relative.shape)
    assert relative.max() < 1e-10, (relative.max(), s[worst], x[worst])


def test_scaled_upper_gamma_is_finite_where_the_plain_one_over_or_underflows():
    # Gamma(-50, 1e-12) ~ 1e598 and Gamma(1, 1e4) ~ exp(-1e4): both outside float64
    got = np.asarray(log_upper_gamma_scaled(jnp.array([-50.0, 1.0]), jnp.array([1e-12, 1e4])))
    ref = [
        _mp_log_upper_gamma(-50.0, 1e-12) + 1e-12 + 50.0 * np.log(1e-12),
        _mp_log_upper_gamma(1.0, 1e4) + 1e4 - 1.0 * np.log(1e4),
    ]
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_upper_gamma_gradient_is_finite_and_matches_finite_differences():
    def f(s):
        return log_upper_gamma(s, 0.7)

    for s in (-3.5, -1.0, 0.0, 0.5):
        g = float(jax.grad(f)(s))
        h = 1e-6
        fd = float((f(s + h) - f(s - h)) / (2 * h))
        assert np.isfinite(g) and g == pytest.approx(fd, rel=1e-5, abs=1e-8)


def test_exprel_family_is_smooth_through_zero():
    z = np.array([-800.0, -30.0, -1.0, -1e-4, 0.0, 1e-4, 1.0, 30.0])
    with mpmath.workdps(40):
        ref_exprel = [float(mpmath.expm1(v) / v) if v != 0 else 1.0 for v in z[1:]]
        ref_log_exprel = [float(mpmath.log(mpmath.expm1(v) / v)) if v != 0 else 0.0 for v in z]
        a = np.array([1e-10, 0.5, 1.0, 40.0])
        ref_log1mexp = [float(mpmath.log(1 - mpmath.exp(-v))) for v in a]
    np.testing.assert_allclose(np.asarray(exprel(z[1:])), ref_exprel, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(log_exprel(z)), ref_log_exprel, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.asarray(log1mexp(a)), ref_log1mexp, rtol=1e-12)
