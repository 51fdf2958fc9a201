"""The phase weights from the eigenvalues above the shared MP edge (rmtfit.phases._exceedances).

The property that matters: two models that agree above the threshold and differ only in their
bulk get the same conditional score, while the comparison over every eigenvalue separates them.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
from scipy import stats

from rmtfit.common import enable_x64
from rmtfit.likelihoods import get_likelihood
from rmtfit.phases._exceedances import exceedance_weights

enable_x64()

SPLICED = get_likelihood("spliced_pl")


def _idata(x, params, spread, seed):
    """An InferenceData of spliced_pl with draws around ``params`` (spread is the relative sd)."""
    import jax.numpy as jnp

    rng = np.random.default_rng(seed)
    chains, draws = 2, 200
    posterior = {
        k: v * np.exp(spread * rng.normal(size=(chains, draws))) for k, v in params.items()
    }
    flat = {k: jnp.asarray(v.ravel()) for k, v in posterior.items()}
    import jax

    loglik = jax.vmap(lambda p: SPLICED.logpdf(jnp.asarray(x), p, {}))(flat)
    return az.from_dict(
        posterior=posterior,
        log_likelihood={"obs": np.asarray(loglik).reshape(chains, draws, -1)},
        observed_data={"obs": x},
    )


def _sample(n, seed, below=np.inf):
    """``n`` log-normal(0, 0.5) values, all below ``below`` (by rejection)."""
    rng = np.random.default_rng(seed)
    values = np.exp(rng.normal(0.0, 0.5, size=4 * n))
    return np.sort(values[values < below][:n])


def test_models_that_agree_above_the_edge_score_the_same_there():
    x = _sample(300, 0)
    x[-12:] = 3.0 * (1.0 - np.random.default_rng(1).uniform(size=12)) ** (-1.0 / 1.5)
    tail = {"alpha": 2.5, "xmin": 2.0}
    a = _idata(x, {**tail, "bulk_loc": 0.0, "bulk_scale": 0.5}, 0.0, 2)
    b = _idata(x, {**tail, "bulk_loc": 0.4, "bulk_scale": 0.9}, 0.0, 2)  # a worse bulk
    found = exceedance_weights(
        {"a": a, "b": b},
        {"a": "mp", "b": "tail"},
        {"a": 0.5, "b": 0.5},
        {"a": np.full(400, 2.5)},  # the shared edge: t = 2.5 >= xmin
        {"a": SPLICED, "b": SPLICED},
        "layer",
    )
    assert found.threshold == pytest.approx(2.5)
    assert found.num_exceedances == int(np.sum(x > 2.5)) > 0
    # above t >= xmin both are the Pareto(alpha, t) density: equal conditional elpd (the bulk
    # cancels), equal to the closed form since every draw is the same
    pareto = stats.pareto(b=tail["alpha"] - 1.0, scale=2.5).logpdf(x[x > 2.5]).sum()
    assert found.elpd["a"] == pytest.approx(pareto, rel=1e-9)
    assert found.elpd["b"] == pytest.approx(pareto, rel=1e-9)
    assert found.weights["a"] == pytest.approx(0.5, abs=1e-6)
    # while the full-data pointwise log-likelihoods separate them by the bulk
    full_a = a.log_likelihood["obs"].values[0, 0].sum()
    full_b = b.log_likelihood["obs"].values[0, 0].sum()
    assert full_a - full_b > 50.0


def test_the_model_that_explains_the_exceedances_takes_the_weight():
    x = _sample(300, 3, below=1.9)
    x[-15:] = 2.0 * (1.0 - np.random.default_rng(4).uniform(size=15)) ** (-1.0 / 1.2)  # alpha 2.2
    bulk = {"bulk_loc": 0.0, "bulk_scale": 0.5, "xmin": 2.0}
    right = _idata(x, {**bulk, "alpha": 2.2}, 0.02, 5)
    wrong = _idata(x, {**bulk, "alpha": 6.0}, 0.02, 6)
    found = exceedance_weights(
        {"right": right, "wrong": wrong},
        {"right": "tail", "wrong": "mp"},
        {"right": 0.1, "wrong": 0.9},
        {"wrong": np.full(400, 2.0)},
        {"right": SPLICED, "wrong": SPLICED},
        "layer",
    )
    assert found.weights["right"] > 0.95
    # the PSIS estimate of a near point-mass posterior is close to the plug-in conditional density
    plug_in = stats.pareto(b=1.2, scale=2.0).logpdf(x[x > 2.0]).sum()
    assert found.elpd["right"] == pytest.approx(plug_in, abs=0.05 * abs(plug_in))


def test_nothing_above_the_edge_gives_the_weight_to_the_mp_kind_fits():
    x = _sample(200, 7)
    params = {"alpha": 3.0, "xmin": 1.5, "bulk_loc": 0.0, "bulk_scale": 0.5}
    a, b = _idata(x, params, 0.01, 8), _idata(x, params, 0.01, 9)
    found = exceedance_weights(
        {"mp": a, "tail": b},
        {"mp": "mp", "tail": "tail"},
        {"mp": 0.2, "tail": 0.8},
        {"mp": np.full(400, 10.0 * x.max())},
        {"mp": SPLICED, "tail": SPLICED},
        "layer",
    )
    assert found.num_exceedances == 0
    assert found.weights == {"mp": 1.0, "tail": 0.0}
    assert "no eigenvalue above the MP edge" in found.note


def test_a_fit_without_pointwise_values_is_refused_with_its_name():
    x = _sample(100, 10)
    params = {"alpha": 3.0, "xmin": 1.5, "bulk_loc": 0.0, "bulk_scale": 0.5}
    a = _idata(x, params, 0.01, 11)
    lean = az.from_dict(
        posterior={k: a.posterior[k].values for k in params}, observed_data={"obs": x}
    )
    with pytest.raises(ValueError, match="'lean' has no pointwise log-likelihood"):
        exceedance_weights(
            {"full": a, "lean": lean},
            {"full": "mp", "lean": "tail"},
            {"full": 0.5, "lean": 0.5},
            {"full": np.full(10, 1.2)},
            {"full": SPLICED, "lean": SPLICED},
            "layer",
        )
