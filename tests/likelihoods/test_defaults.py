"""The default likelihoods and the conformance checker: the pieces the other stages rely on."""

from __future__ import annotations

import numpy as np
import pytest

import rmtfit
from rmtfit.likelihoods import (
    DEFAULT_LIKELIHOODS,
    ConformanceError,
    check_likelihood,
    get_likelihood,
    list_likelihoods,
)
from rmtfit.likelihoods._check import synthetic_layer


def test_default_likelihoods_are_registered_with_the_names_other_stages_use():
    assert DEFAULT_LIKELIHOODS == ("mp_spikes", "spliced_pl", "power_law")
    families = {name: get_likelihood(name).family for name in DEFAULT_LIKELIHOODS}
    assert families == {"mp_spikes": "full", "spliced_pl": "full", "power_law": "tail"}
    assert {"alpha", "xmin"} <= set(get_likelihood("spliced_pl").parameter_names)
    assert "sigma2" in get_likelihood("mp_spikes").parameter_names
    assert set(DEFAULT_LIKELIHOODS) <= set(list_likelihoods())


def test_check_likelihood_is_exported_at_top_level():
    assert rmtfit.check_likelihood is check_likelihood


def test_mp_spikes_derived_quantities():
    import jax

    lik = get_likelihood("mp_spikes")
    spectrum, classical = synthetic_layer(0)
    x = lik.observations(spectrum, classical)
    ctx = lik.context(x, spectrum, classical)
    params = lik.init(ctx)
    mask = np.ones(x.size, dtype=bool)
    mask[-3:] = False  # padded entries do not count as spikes
    out = lik.derived(jax.random.PRNGKey(0), x, mask, params, ctx)
    lambda_plus = ctx["N"] * params["sigma2"] * (1 + ctx["Q"] ** -0.5) ** 2
    assert float(out["lambda_plus"]) == pytest.approx(lambda_plus, rel=1e-12)
    prob = np.asarray(out["spike_prob"])
    assert prob.shape == x.shape and np.all((prob >= 0) & (prob <= 1))
    # eigenvalues deep inside the bulk are bulk, the largest ones far above the edge are spikes
    assert prob[x < 0.5 * lambda_plus].max() < 1e-3
    assert prob[np.argmax(x)] > 0.99
    k = int(out["K"])
    assert 0 <= k <= int(mask.sum())
    assert abs(k - prob[mask].sum()) < 4 * np.sqrt(prob[mask].sum() + 1)


def test_check_likelihood_reports_a_broken_density():
    import jax.numpy as jnp
    import numpyro.distributions as dist
    from numpyro.distributions import constraints

    @rmtfit.likelihood(
        "broken_tail_for_test",
        family="tail",
        parameters=[
            rmtfit.Parameter(
                "alpha", constraints.interval(1.5, 6.0), lambda c: dist.Uniform(1.5, 6.0), "U"
            )
        ],
        register_as=False,
        sample=lambda key, p, c, n: c["xmin"] * jnp.ones(n),
    )
    def broken(x, params, context):  # forgets the normaliser (alpha - 1) / xmin
        return -params["alpha"] * jnp.log(x / context["xmin"])

    report = check_likelihood(broken, raise_on_failure=False)
    assert not report.passed
    assert not report["normalisation"].passed
    assert not report["sampler"].passed
    with pytest.raises(ConformanceError, match="normalisation"):
        check_likelihood(broken)
