"""The PyMC backend (``fit(..., backend="pymc")``): PyMC's own NUTS on the same JAX likelihood.

A cross-check of the NumPyro engine, not a fast path: one layer at a time. The registered
likelihood enters PyMC unchanged: the joint log density on the unconstrained vector
(:func:`rmtfit.inference.log_density`, jitted JAX) is wrapped in a PyTensor ``Op`` whose gradient
is a second ``Op`` calling ``jax.grad`` of the same function (the pattern of PyMC's guide
"How to wrap a JAX function for use in PyMC"). The PyMC model is one flat vector ``z`` with
``pm.Potential`` holding that density, so PyMC's sampler sees exactly the posterior the NumPyro
engine samples; draws are mapped back through the same transforms, and the pointwise
log-likelihood and derived quantities come from the same vmapped pass.

Needs the ``pymc`` extra (``pip install rmtfit[pymc]``); it is imported only here, lazily.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rmtfit.inference import _batch, _model, _nuts

__all__ = ["sample_pymc"]


def _import_pymc() -> tuple[Any, Any]:
    try:
        import pymc
        import pytensor.tensor as pt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "backend='pymc' needs PyMC; install the optional extra: pip install 'rmtfit[pymc]'."
        ) from exc
    return pymc, pt


def _log_density_ops(lik: Any, x: np.ndarray, mask: np.ndarray, ctx: dict[str, float]) -> Any:
    """A PyTensor Op computing the log density of unconstrained ``z`` (with a JAX gradient)."""
    from pytensor.graph.basic import Apply
    from pytensor.graph.op import Op

    _, pt = _import_pymc()
    args = (jnp.asarray(x), jnp.asarray(mask), {k: jnp.asarray(v) for k, v in ctx.items()})
    args = (*args, _model.data_statistics(lik, args[0], args[1]))  # the `summed` shortcut
    value_fn = jax.jit(lambda z: _model.log_density(lik, z, *args))
    grad_fn = jax.jit(jax.grad(lambda z: _model.log_density(lik, z, *args)))

    class LogDensityGrad(Op):
        __props__ = ()

        def make_node(self, z: Any) -> Any:  # type: ignore[override]
            z = pt.as_tensor_variable(z)
            return Apply(self, [z], [z.type()])

        def perform(self, node: Any, inputs: Any, outputs: Any) -> None:
            outputs[0][0] = np.asarray(grad_fn(inputs[0]), dtype=np.float64)

    grad_op = LogDensityGrad()

    class LogDensity(Op):
        __props__ = ()

        def make_node(self, z: Any) -> Any:  # type: ignore[override]
            z = pt.as_tensor_variable(z)
            return Apply(self, [z], [pt.dscalar()])

        def perform(self, node: Any, inputs: Any, outputs: Any) -> None:
            outputs[0][0] = np.asarray(value_fn(inputs[0]), dtype=np.float64)

        def grad(self, inputs: Any, output_grads: Any) -> list[Any]:
            return [output_grads[0] * grad_op(inputs[0])]

    return LogDensity()


def _constrained(lik: Any, z: np.ndarray, ctx: dict[str, float]) -> np.ndarray:
    """``(C, D, P)`` unconstrained draws -> constrained, same shape."""
    c = {k: jnp.asarray(v) for k, v in ctx.items()}

    def one(zi: Any) -> Any:
        params, _, _ = _model.constrain(lik, zi, c)
        return jnp.stack([params[p.name] for p in lik.parameters])

    flat = z.reshape(-1, z.shape[-1])
    return np.asarray(jax.jit(jax.vmap(one))(jnp.asarray(flat))).reshape(z.shape)


def _initial_point(lik: Any, init: np.ndarray, ctx: dict[str, float]) -> np.ndarray:
    params = {p.name: init[j] for j, p in enumerate(lik.parameters)}
    z = np.asarray(_model.unconstrain(lik, params, {k: jnp.asarray(v) for k, v in ctx.items()}))
    return np.where(np.isfinite(z), z, 0.0)


def _sample_layer(
    lik: Any, batch: _batch.Batch, i: int, settings: _nuts.SamplerSettings, seed: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """PyMC NUTS on layer ``i`` of ``batch``: constrained draws ``(C, D, P)`` and sample stats."""
    pm, _ = _import_pymc()
    n = int(batch.n_obs[i])
    x, mask = batch.x[i, :n], batch.mask[i, :n]
    ctx = {k: float(v[i]) for k, v in batch.context.items()}
    op = _log_density_ops(lik, x, mask, ctx)
    num_params = len(lik.parameters)
    z0 = _initial_point(lik, batch.init[i], ctx)
    with pm.Model():
        z = pm.Flat("z", shape=(num_params,), initval=z0)
        pm.Potential("log_density", op(z))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyMC's own convergence warnings: we check ourselves
            idata = pm.sample(
                draws=settings.draws,
                tune=settings.warmup,
                chains=settings.chains,
                cores=1,
                random_seed=int(seed),
                target_accept=settings.target_accept,
                progressbar=False,
                compute_convergence_checks=False,
                return_inferencedata=True,
            )
    draws = _constrained(lik, np.asarray(idata.posterior["z"].values), ctx)
    st = idata.sample_stats
    stats = {
        "diverging": np.asarray(st["diverging"].values, dtype=bool),
        "tree_depth": np.asarray(st["tree_depth"].values, dtype=np.int64),
        "n_steps": np.asarray(st["n_steps"].values, dtype=np.int64),
        "acceptance_rate": np.asarray(st["acceptance_rate"].values, dtype=np.float64),
        "lp": np.asarray(st["lp"].values, dtype=np.float64),
        "energy": np.asarray(st["energy"].values, dtype=np.float64),
        "step_size": np.asarray(st["step_size"].values, dtype=np.float64),
    }
    return draws, stats


def sample_pymc(
    jobs: Sequence[tuple[Any, _batch.Batch]],
    settings: _nuts.SamplerSettings,
    *,
    seed: int,
    attempt: int = 0,
    advance: Any = None,
) -> dict[tuple[str, str], Any]:
    """Same contract as :func:`rmtfit.inference._sampling.sample_batches`, one layer at a time."""
    from rmtfit.inference._sampling import layer_fit_from_draws

    _import_pymc()
    results: dict[tuple[str, str], Any] = {}
    for lik, batch in jobs:
        layer_draws, layer_stats = [], []
        errors: dict[int, str] = {}
        for i, layer in enumerate(batch.layers):
            layer_seed = int(_nuts.lane_keys(seed, lik.name, (layer,), 1, attempt)[0, 0])
            try:
                draws, stats = _sample_layer(lik, batch, i, settings, layer_seed)
            except Exception as exc:  # one bad layer never kills the run
                errors[i] = f"PyMC sampling raised {type(exc).__name__}: {exc}"
                draws = np.full((settings.chains, settings.draws, len(lik.parameters)), np.nan)
                stats = {}
            layer_draws.append(draws)
            layer_stats.append(stats)
            if advance is not None:
                advance(1)
        params = np.stack(layer_draws)
        keys = _nuts.lane_keys(seed, lik.name + "/derived", batch.layers, settings.chains, attempt)
        pointwise = _nuts.run_pointwise(lik, batch, np.nan_to_num(params), keys)
        attrs = {
            "warmup": settings.warmup,
            "draws": settings.draws,
            "target_accept": settings.target_accept,
            "attempt": attempt,
            "family": lik.family,
            **lik.roles.to_attrs(),
            "sampler": "pymc",
        }
        for i, layer in enumerate(batch.layers):
            where = f"layer {layer!r}, likelihood {lik.name!r}"
            if i in errors:
                results[(layer, lik.name)] = ("failed", f"{where}: {errors[i]}")
                continue
            results[(layer, lik.name)] = layer_fit_from_draws(
                lik, batch, i, params[i], layer_stats[i], pointwise, attrs
            )
    return results
