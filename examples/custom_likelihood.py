"""Add your own tail model to rmtfit, check it, fit it and compare it with the power law.

The question: "is a layer's tail better described by a Lomax (Pareto type II) law, a power law
that bends in smoothly at xmin, than by the pure power law?" The Lomax law on [xmin, inf),

    p(x) = (alpha - 1) / s * (1 + (x - xmin) / s)^(-alpha),

behaves like x^-alpha far above xmin + s, so its alpha is comparable with the power law's.

Steps: (1) declare the likelihood with the public decorator ``rmtfit.likelihood`` (a JAX
log-density, its parameters with constraints and priors, a sampler, a CDF and the roles of its
variables: ``alpha`` is the tail exponent); (2) run it through
``rmtfit.check_likelihood``, the conformance checks every built-in passes; (3) fit it with
``rmtfit.fit`` next to ``power_law`` and compare the two by PSIS-LOO.

Run:  python examples/custom_likelihood.py [--small] [--seed 0]
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from numpyro.distributions import constraints

import rmtfit


def _lomax_cdf(x, params, context):
    excess = jnp.maximum(x - context["xmin"], 0.0) / params["scale"]
    return -jnp.expm1(-(params["alpha"] - 1.0) * jnp.log1p(excess))


def _lomax_sample(rng_key, params, context, n):
    v = 1.0 - jax.random.uniform(rng_key, (n,), dtype=jnp.float64)  # in (0, 1]
    return context["xmin"] + params["scale"] * jnp.expm1(-jnp.log(v) / (params["alpha"] - 1.0))


@rmtfit.likelihood(
    "lomax_tail",
    family="tail",  # explains the eigenvalues above the classical xmin, like power_law
    parameters=[
        rmtfit.Parameter(
            "alpha",
            constraints.interval(1.01, 12.0),
            lambda context: dist.Uniform(1.01, 12.0),
            "alpha ~ Uniform(1.01, 12)",
        ),
        rmtfit.Parameter(
            "scale",
            constraints.positive,
            lambda context: dist.LogNormal(jnp.log(context["xmin"]), 2.0),
            "log scale ~ Normal(log xmin, 2)",
        ),
    ],
    init=lambda context: {"alpha": 3.0, "scale": float(context["xmin"])},
    sample=_lomax_sample,
    cdf=_lomax_cdf,
    # its alpha is the ESD tail exponent: the report, the network metrics and the phases read it
    roles=rmtfit.Roles(kind="tail", tail_exponent="alpha"),
)
def lomax_tail(x, params, context):
    """Lomax (Pareto II) law on [xmin, inf): a power law with a smooth start at xmin."""
    alpha, scale = params["alpha"], params["scale"]
    value = jnp.log(alpha - 1.0) - jnp.log(scale) - alpha * jnp.log1p((x - context["xmin"]) / scale)
    return jnp.where(x >= context["xmin"], value, -jnp.inf)


def heavy_tailed_layer(size: int, seed: int):
    """Eigenvalues of W^T W for a Student-t (3 degrees of freedom) matrix: a heavy-tailed layer."""
    from rmtfit.spectra import Spectrum

    rng = np.random.default_rng(seed)
    n_rows, n_cols = 2 * size, size
    w = rng.standard_t(3.0, size=(n_rows, n_cols)) / np.sqrt(n_rows)
    eigenvalues = np.sort(np.linalg.eigvalsh(w.T @ w))
    return Spectrum("student_t", "linear", n_rows, n_cols, np.clip(eigenvalues, 0.0, None))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a small layer and short chains")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    report = rmtfit.check_likelihood(lomax_tail, seed=args.seed)
    print(report)

    size, draws, chains = (150, 300, 2) if args.small else (500, 1000, 4)
    spectrum = heavy_tailed_layer(size, args.seed)
    fits = rmtfit.fit(
        [spectrum],
        likelihoods=["lomax_tail", "power_law"],
        seed=args.seed,
        draws=draws,
        warmup=draws,
        chains=chains,
    )
    print(fits)
    for name in ("lomax_tail", "power_law"):
        alpha = np.asarray(fits.idata(spectrum.name, name).posterior["alpha"]).ravel()
        lo, hi = np.quantile(alpha, [0.03, 0.97])
        print(f"{name:>11}: alpha = {alpha.mean():.2f}  (94% interval {lo:.2f} to {hi:.2f})")
    comparison = rmtfit.compare(fits, layer=spectrum.name, family="tail")
    print(comparison)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
