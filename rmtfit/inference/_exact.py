"""Exact posterior draws where a likelihood provides them (``fit(..., exact=True)``).

A likelihood may declare ``exact_posterior(x, context, num_draws, seed) -> {name: draws}``
(the fixed-xmin power law does: alpha - 1 is Gamma(n, sum ln(x/xmin)) under its Jeffreys prior,
truncated to the prior range). By default (``exact=True``) these independent draws are returned
instead of NUTS draws, with the same pointwise log-likelihood and derived quantities as a
sampled fit; with ``exact=False`` NUTS runs and the exact law is a test oracle.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from rmtfit.inference import _batch, _nuts
from rmtfit.inference._fits import LayerFit

__all__ = ["has_exact", "exact_fits"]


def has_exact(lik: Any) -> bool:
    """Whether the exact posterior that ``lik`` declares applies to ``lik`` as given.

    The exact law is derived for one log-density and one prior, so it is used only when ``lik``
    is the registered likelihood of its name with the same ``logpdf``, the same exact law and
    the same prior functions (a copy made by ``with_priors`` or ``dataclasses.replace`` does not
    qualify).
    """
    law = lik.exact_posterior
    if not callable(law):
        return False
    from rmtfit.likelihoods import get_likelihood

    try:
        registered = get_likelihood(lik.name)
    except KeyError:
        return False
    return (
        registered.exact_posterior is law
        and registered.logpdf is lik.logpdf
        and registered.parameter_names == lik.parameter_names
        and all(
            a.prior is b.prior for a, b in zip(registered.parameters, lik.parameters, strict=True)
        )
    )


def _layer_seed(seed: int, likelihood: str, layer: str) -> int:
    ss = np.random.SeedSequence(
        [int(seed) & 0xFFFFFFFF, zlib.crc32(likelihood.encode()), zlib.crc32(layer.encode())]
    )
    return int(ss.generate_state(1)[0])


def exact_fits(
    lik: Any, prepared: Sequence[Any], settings: _nuts.SamplerSettings, seed: int
) -> dict[tuple[str, str], LayerFit | tuple[str, str]]:
    """One :class:`LayerFit` per prepared layer, from exact draws (chains x draws of them)."""
    out: dict[tuple[str, str], LayerFit | tuple[str, str]] = {}
    if not prepared:
        return out
    c, d = settings.chains, settings.draws
    draws = []
    for p in prepared:
        values = lik.exact_posterior(p.x, p.context, c * d, _layer_seed(seed, lik.name, p.layer))
        draws.append(
            np.stack(
                [
                    np.asarray(values[n], dtype=np.float64).reshape(c, d)
                    for n in lik.parameter_names
                ],
                axis=-1,
            )
        )
    sizes = _batch.bucket_sizes([p.x.size for p in prepared])
    for size in sorted(set(sizes)):
        idx = [i for i, s in enumerate(sizes) if s == size]
        members = [prepared[i] for i in idx]
        batch = _batch.make_batch(
            [p.layer for p in members],
            [p.x for p in members],
            [p.context for p in members],
            [p.init for p in members],
            lik.parameter_names,
            size,
        )
        params = np.stack([draws[i] for i in idx])
        keys = _nuts.lane_keys(seed, lik.name + "/derived", batch.layers, c, 0)
        pointwise = _nuts.run_pointwise(lik, batch, params, keys)
        for j, p in enumerate(members):
            n = p.x.size
            loglik = pointwise["loglik"][j, :, :, :n]
            if np.isnan(loglik).any():
                c_, d_ = np.argwhere(np.isnan(loglik).any(axis=-1))[0]
                values = ", ".join(
                    f"{name}={params[j, c_, d_, k]:.6g}"
                    for k, name in enumerate(lik.parameter_names)
                )
                out[(p.layer, lik.name)] = (
                    "failed",
                    f"layer {p.layer!r}, likelihood {lik.name!r}: the log-likelihood is NaN "
                    f"at the exact posterior draw {values} (chain {c_}, draw {d_}).",
                )
                continue
            posterior = {
                name: params[j, ..., k].copy() for k, name in enumerate(lik.parameter_names)
            }
            for key, value in pointwise.items():
                if key.startswith("derived:"):
                    v = value[j]
                    posterior[key.split(":", 1)[1]] = np.array(
                        v[:, :, :n] if v.ndim == 3 and v.shape[2] == size else v
                    )
            zeros = np.zeros((c, d))
            out[(p.layer, lik.name)] = LayerFit(
                layer=p.layer,
                likelihood=lik.name,
                posterior=posterior,
                parameters=tuple(lik.parameter_names),
                sample_stats={"diverging": zeros.astype(bool)},
                log_likelihood=np.array(loglik),
                observed=p.x.copy(),
                context=dict(p.context),
                attrs={
                    "sampler": "exact",
                    "draws": d,
                    "attempt": 0,
                    "family": lik.family,
                    **lik.roles.to_attrs(),
                },
            )
    return out
