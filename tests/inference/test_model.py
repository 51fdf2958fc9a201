"""The lower levels: `log_density` equals NumPyro's potential of `numpyro_model`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import pareto_sample

import rmtfit
from rmtfit.inference import log_density, numpyro_model
from rmtfit.inference._model import constrain, unconstrain


@pytest.mark.parametrize("name", ["power_law", "truncated_power_law", "cutoff_power_law"])
def test_log_density_equals_numpyro_potential(name):
    from numpyro.infer.util import initialize_model

    lik = rmtfit.get_likelihood(name)
    x = jnp.asarray(pareto_sample(np.random.default_rng(0), 2.5, 1.0, 80))
    context = {"xmin": 1.0, "xmax": float(x.max()), "upper": float(x.max()) * 1.5}
    info, potential_fn, _, _ = initialize_model(
        jax.random.key(0), numpyro_model(lik), model_args=(x,), model_kwargs={"context": context}
    )
    mask = jnp.ones(x.shape, bool)
    rng = np.random.default_rng(1)
    for _ in range(5):
        z = rng.normal(size=len(lik.parameters))
        unconstrained = {p.name: jnp.asarray(z[j]) for j, p in enumerate(lik.parameters)}
        ours = float(log_density(lik, jnp.asarray(z), x, mask, context))
        theirs = -float(potential_fn(unconstrained))
        assert ours == pytest.approx(theirs, rel=1e-10, abs=1e-8)


def test_masked_entries_do_not_count():
    lik = rmtfit.get_likelihood("power_law")
    x = jnp.asarray(pareto_sample(np.random.default_rng(0), 2.5, 1.0, 50))
    padded = jnp.concatenate([x, jnp.full(14, x[0])])
    mask = jnp.arange(64) < 50
    z = jnp.asarray([0.3])
    context = {"xmin": 1.0}
    full = log_density(lik, z, x, jnp.ones(50, bool), context)
    assert float(log_density(lik, z, padded, mask, context)) == pytest.approx(float(full))


def test_constrain_and_unconstrain_are_inverse():
    lik = rmtfit.get_likelihood("cutoff_power_law")
    context = {"xmin": 1.0, "xmax": 50.0}
    params = {"alpha": jnp.asarray(2.3), "rate": jnp.asarray(0.02)}
    back, _, _ = constrain(lik, unconstrain(lik, params, context), context)
    for k, v in params.items():
        assert float(back[k]) == pytest.approx(float(v), rel=1e-12)


def test_a_user_prior_narrower_than_the_constraint_is_respected():
    import numpyro.distributions as dist

    lik = rmtfit.get_likelihood("power_law").with_priors(alpha=lambda ctx: dist.Uniform(2.0, 4.0))
    for z in (-30.0, 0.0, 30.0):
        params, _, log_prior = constrain(lik, jnp.asarray([z]), {"xmin": 1.0})
        assert 2.0 <= float(params["alpha"]) <= 4.0
        assert np.isfinite(float(log_prior))
