"""Conformance: every built-in likelihood, and the example's custom one, passes check_likelihood.

The checks (normalisation to 1e-8, sampler vs CDF by KS at p > 1e-3, jit/vmap, gradients against
finite differences, errors on bad parameters and data) are listed in
:mod:`rmtfit.likelihoods._check`; the last tests plant a wrong gradient and a wrong summed form
and check that the checker catches them.
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from rmtfit.likelihoods import BUILTIN_LIKELIHOODS, check_likelihood, get_likelihood

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_likelihood.py"
EXPECTED = {
    "full": {"mp_spikes", "spliced_pl", "spliced_tpl", "spliced_mp"},
    "tail": {
        "power_law",
        "truncated_power_law",
        "cutoff_power_law",
        "lognormal",
        "exponential",
        "stretched_exponential",
        "frechet_topk",
    },
}


def _example_module():
    spec = importlib.util.spec_from_file_location("rmtfit_example_custom_likelihood", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_zoo_holds_the_names_the_other_stages_use():
    for family, names in EXPECTED.items():
        assert {n for n in BUILTIN_LIKELIHOODS if get_likelihood(n).family == family} == names


@pytest.mark.parametrize("name", BUILTIN_LIKELIHOODS)
def test_builtin_passes_conformance(name):
    report = check_likelihood(name, raise_on_failure=False)
    assert report.passed, str(report)
    expected = {"normalisation", "sampler", "cdf", "jit", "vmap", "gradient", "bad_params", "roles"}
    assert expected <= {r.name for r in report.results}


def test_example_custom_likelihood_passes_conformance():
    lik = _example_module().lomax_tail
    report = check_likelihood(lik, raise_on_failure=False)
    assert report.passed, str(report)


@pytest.mark.parametrize("name", BUILTIN_LIKELIHOODS)
def test_every_prior_is_documented_and_overridable(name):
    import numpyro.distributions as dist

    lik = get_likelihood(name)
    assert lik.doc, f"{name} has no docstring"
    for p in lik.parameters:
        assert p.doc and p.doc != "user prior", f"{name}.{p.name} has no documented prior"
    first = lik.parameters[0]
    changed = lik.with_priors(**{first.name: lambda context: dist.Uniform(1.5, 2.5)})
    assert changed.parameter(first.name).doc == "user prior"
    assert lik.parameter(first.name).doc == first.doc  # the registered one is unchanged


def test_summed_shortcut_is_checked_against_the_pointwise_sum():
    """spliced_pl declares an exact summed form (prefix sums; one binary search per
    evaluation); the checker compares it with the pointwise sum and catches a wrong one."""
    lik = get_likelihood("spliced_pl")
    assert lik.summed is not None
    report = check_likelihood(lik, raise_on_failure=False)
    names = {r.name: r for r in report.results}
    assert names["summed"].passed and names["summed_gradient"].passed

    statistics, total = lik.summed
    off_by_one_point = replace(
        lik, summed=(statistics, lambda st, p, c: total(st, p, c) + 0.5 * p["alpha"])
    )
    bad = check_likelihood(off_by_one_point, raise_on_failure=False)
    failed = {r.name for r in bad.results if not r.passed}
    assert {"summed", "summed_gradient"} <= failed


def _frozen_normaliser(x, params, context):
    """power_law with ln(alpha - 1) behind stop_gradient: the right values, d/dalpha off by
    n / (alpha - 1), and still finite (all the gradient check used to test)."""
    alpha, xmin = params["alpha"], context["xmin"]
    return jax.lax.stop_gradient(jnp.log(alpha - 1.0)) - jnp.log(xmin) - alpha * jnp.log(x / xmin)


@jax.custom_jvp
def _log_excess(alpha):
    return jnp.log(alpha - 1.0)


@_log_excess.defjvp
def _log_excess_jvp(primals, tangents):  # a hand-written derivative 0.01% too large
    (alpha,), (dalpha,) = primals, tangents
    return _log_excess(alpha), 1.0001 * dalpha / (alpha - 1.0)


def _slightly_wrong_jvp(x, params, context):
    alpha, xmin = params["alpha"], context["xmin"]
    return _log_excess(alpha) - jnp.log(xmin) - alpha * jnp.log(x / xmin)


@pytest.mark.parametrize("logpdf", [_frozen_normaliser, _slightly_wrong_jvp])
def test_a_wrong_gradient_fails_the_gradient_check(logpdf):
    lik = get_likelihood("power_law")  # whose own gradient passes (test_builtin_passes_...)
    bad = check_likelihood(replace(lik, logpdf=logpdf), raise_on_failure=False)
    assert bad["logpdf"].passed and bad["jit"].passed and bad["normalisation"].passed
    assert not bad["gradient"].passed, bad["gradient"].detail
    assert "finite difference" in bad["gradient"].detail
