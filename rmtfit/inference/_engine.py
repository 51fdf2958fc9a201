"""`rmtfit.fit`: every (layer, likelihood) posterior of a network, batched, checked, retried.

The work, for each likelihood:

1. *prepare* each layer: the observations the likelihood explains, its context, its starting
   values (``lik.init`` on the context, the classical estimates). A layer with too few
   observations, or no classical xmin for a tail likelihood, is ``not_fitted`` with the reason;
   an exception in the likelihood's own code, or in the classical fit of the layer, is
   ``failed`` with the message;
2. *batch*: pad layers into few size buckets (:mod:`rmtfit.inference._batch`);
3. *sample*: one compiled NUTS program per (likelihood, bucket), vmapped over the chains of a
   layer and called once per layer on a small thread pool (compiling and running release the
   GIL, so two layers use both cores; :mod:`rmtfit.inference._sampling` says why one layer per
   call beats one call for all layers on a CPU), then one vmapped pass per bucket for the
   pointwise log-likelihood and the derived quantities of every draw
   (:mod:`rmtfit.inference._nuts`);
4. *check* (:mod:`rmtfit.inference._diagnostics`): a pair short only of effective draws is
   extended first (its chains continue, :func:`rmtfit.inference._sampling.sample_batches`);
   the pairs still bad are retried once with a longer warmup and a higher target acceptance;
   what is still bad is ``flagged`` and warned about.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from rmtfit.common import CI_PROB, ProgressBar, check_ci_prob, enable_x64
from rmtfit.inference import _batch, _diagnostics, _nuts
from rmtfit.inference._fits import Fits, LayerFit, build_summary, series_diagnostics
from rmtfit.inference._sampling import sample_batches

__all__ = ["fit", "FitFailedWarning", "Prepared", "prepare", "sample_batches"]

_BACKENDS = ("numpyro", "pymc")


class FitFailedWarning(RuntimeWarning):
    """A (layer, likelihood) pair could not be fitted because of an error (status ``failed``)."""


@dataclass(frozen=True, eq=False)
class Prepared:
    """One layer ready for one likelihood: observations, context, starting values."""

    layer: str
    x: np.ndarray
    context: Mapping[str, float]
    init: Mapping[str, float] | None
    note: str = ""


# --------------------------------------------------------------------------- inputs


def _spectra_list(spectra: Any) -> list[Any]:
    """A list of Spectrum from a Spectra, a Spectrum, a sequence of them or a mapping.

    A mapping goes name -> 1-D eigenvalue array (taken as the spectrum of a square matrix,
    ``N = M = len``: build a :class:`~rmtfit.spectra.Spectrum` yourself to state the shape) or
    name -> Spectrum.
    """
    from rmtfit.spectra import Spectrum

    if isinstance(spectra, Spectrum):
        items = [spectra]
    elif isinstance(spectra, Mapping):
        items = [_spectrum_from(name, value) for name, value in spectra.items()]
    else:
        items = list(spectra)
    for s in items:
        if not isinstance(s, Spectrum):
            raise TypeError(
                f"fit() takes a Spectra, a sequence of Spectrum or a mapping name -> eigenvalues; "
                f"got an item of type {type(s).__name__}. Build spectra with rmtfit.load_spectra(...)."
            )
    names = [s.name for s in items]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"fit(): duplicate layer names {dup}; layer names must be unique.")
    if not items:
        raise ValueError("fit(): no spectra to fit (the input is empty).")
    return items


def _spectrum_from(name: Any, value: Any) -> Any:
    from rmtfit.spectra import Spectrum

    if isinstance(value, Spectrum):
        if value.name != str(name):
            return replace(value, name=str(name))
        return value
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(
            f"fit(): layer {name!r}: eigenvalues must be a 1-D array, got shape {arr.shape}; "
            "for weight matrices use rmtfit.load_spectra(mapping) first."
        )
    if not np.all(np.isfinite(arr)):
        i = int(np.argmax(~np.isfinite(arr)))
        raise ValueError(
            f"fit(): layer {name!r}: eigenvalue [{i}] = {arr[i]!r} is not finite; eigenvalues "
            "must be finite numbers >= 0 (recompute the spectrum in float64)."
        )
    return Spectrum(str(name), "matrix", int(arr.size), int(arr.size), np.sort(arr))


def _likelihood_list(likelihoods: Any) -> list[Any]:
    from rmtfit.likelihoods import get_likelihood

    if likelihoods is None:
        import rmtfit.likelihoods as zoo

        likelihoods = getattr(zoo, "DEFAULT_LIKELIHOODS", None)
        if likelihoods is None:
            raise ValueError(
                "fit(): no default likelihoods are available in this build; pass likelihoods=[...]."
            )
    if isinstance(likelihoods, str) or not isinstance(likelihoods, Sequence):
        likelihoods = [likelihoods]
    out = [get_likelihood(item) for item in likelihoods]
    names = [lik.name for lik in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"fit(): likelihood {dup} given twice; give each once.")
    if not out:
        raise ValueError("fit(): the list of likelihoods is empty.")
    return out


def _classical_map(
    spectra: list[Any], classical: Mapping[str, Any] | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The classical fit of every layer (the given ones, the rest computed here), and the
    reason of every layer whose classical fit raised (its pairs are then ``failed``)."""
    out = dict(classical or {})
    errors: dict[str, str] = {}
    missing = [s for s in spectra if s.name not in out]
    if not missing:
        return out, errors
    try:
        from rmtfit.classical import fit_classical
    except ImportError:
        return {**{s.name: None for s in missing}, **out}, errors
    for s in missing:
        try:
            out[s.name] = fit_classical(s)
        except Exception as exc:  # the layer is kept, its pairs failed with this reason
            out[s.name] = None
            errors[s.name] = (
                f"layer {s.name!r}: classical fit failed: {type(exc).__name__}: {exc}; pass "
                f"classical={{{s.name!r}: None}} to fit the full-spectrum likelihoods without it"
            )
    return out, errors


def prepare(lik: Any, spectrum: Any, classical: Any) -> Prepared | tuple[str, str]:
    """A :class:`Prepared` layer, or ``(status, reason)`` when it cannot be fitted."""
    where = f"layer {spectrum.name!r}, likelihood {lik.name!r}"
    try:
        x = np.asarray(lik.observations(spectrum, classical), dtype=np.float64).ravel()
    except ValueError as exc:
        return "not_fitted", str(exc)
    except Exception as exc:
        return "failed", f"{where}: observations() raised {type(exc).__name__}: {exc}"
    if not np.all(np.isfinite(x)):
        return (
            "failed",
            f"{where}: {int(np.sum(~np.isfinite(x)))} observations are NaN or infinite.",
        )
    if x.size < lik.min_observations:
        return "not_fitted", f"needs >= {lik.min_observations} eigenvalues, got {x.size}"
    try:
        raw = lik.context(x, spectrum, classical)
        context = {str(k): float(v) for k, v in raw.items()}
    except Exception as exc:
        return "failed", f"{where}: context() raised {type(exc).__name__}: {exc}"
    note = ""
    init = None
    if lik.init is not None:
        try:
            init = {k: float(v) for k, v in lik.init(context).items()}
        except Exception as exc:
            note = f"init() raised {type(exc).__name__}: {exc}; chains started at the prior centre"
    return Prepared(spectrum.name, x, context, init, note)


def _batches(
    lik: Any, prepared: Sequence[Prepared], buckets: Mapping[str, int] | None = None
) -> tuple[list[_batch.Batch], dict[str, tuple[str, str]]]:
    """Bucketed batches; layers whose context keys differ from the first layer's fail.

    ``buckets`` (layer -> size) keeps layers in the buckets of an earlier pass: the retry of a
    few layers then reuses the first pass's compiled programs instead of compiling programs
    for the buckets those few layers alone would get.
    """
    bad: dict[str, tuple[str, str]] = {}
    if not prepared:
        return [], bad
    keys = set(prepared[0].context)
    good = []
    for p in prepared:
        if set(p.context) != keys:
            bad[p.layer] = (
                "failed",
                f"layer {p.layer!r}, likelihood {lik.name!r}: context keys {sorted(p.context)} differ "
                f"from the other layers' {sorted(keys)}; context() must return the same keys for every layer.",
            )
        else:
            good.append(p)
    merge = _batch.MERGE_ELEMENTS if lik.summed is not None else _batch.MERGE_ELEMENTS_DENSE
    sizes = _batch.bucket_sizes([p.x.size for p in good], merge_elements=merge)
    if buckets:
        sizes = [int(buckets.get(p.layer, size)) for p, size in zip(good, sizes, strict=True)]
    out = []
    for size in sorted(set(sizes)):
        members = [p for p, s in zip(good, sizes, strict=True) if s == size]
        out.append(
            _batch.make_batch(
                [p.layer for p in members],
                [p.x for p in members],
                [p.context for p in members],
                [p.init for p in members],
                lik.parameter_names,
                size,
            )
        )
    return out, bad


# --------------------------------------------------------------------------- checks


def _check(
    fits: Mapping[tuple[str, str], LayerFit],
) -> dict[tuple[str, str], list[str]]:
    keys = list(fits)
    diags = series_diagnostics([fits[k] for k in keys])
    out = {}
    for k, d in zip(keys, diags, strict=True):
        f = fits[k]
        out[k] = _diagnostics.problems(f.parameters, d, f.divergences, f.num_chains * f.num_draws)
    return out


@contextmanager
def _pair_progress(progress: Any, sampled: int, other: int) -> Iterator[Callable[..., None]]:
    """``advance(n)`` for the sampled pairs: a bar of our own (``progress=True``), the caller's
    callable (advanced at once by the ``other`` pairs, which need no sampling), or nothing."""
    if callable(progress):
        if other:
            progress(other)
        yield progress
        return
    with ProgressBar(enabled=bool(progress)).task("sampling layers", total=sampled) as advance:
        yield advance


def _leapfrog_steps(fit: LayerFit) -> int:
    """Leapfrog steps (gradient evaluations) a NUTS fit took, warmup included; 0 for exact draws."""
    steps = fit.sample_stats.get("n_steps")
    return 0 if steps is None else int(np.sum(steps)) + int(fit.attrs.get("warmup_steps", 0))


_MAX_WORKERS = 8


def _default_workers() -> int:
    """One thread per core (at most :data:`_MAX_WORKERS`): each layer's sampler is small and
    single-threaded, so layers scale across cores (2 threads on 2 cores: 28 s instead of 50 s
    for MiniLM's ``mp_spikes``, 400 iterations)."""
    return max(1, min(_MAX_WORKERS, os.cpu_count() or 1))


# --------------------------------------------------------------------------- public


def fit(
    spectra: Any,
    likelihoods: Any = None,
    *,
    classical: Mapping[str, Any] | None = None,
    seed: int = 0,
    draws: int = 500,
    warmup: int = 300,
    chains: int = 4,
    extend: int = 2,
    backend: str = "numpyro",
    target_accept: float = 0.8,
    ci_prob: float = CI_PROB,
    retry: bool = True,
    exact: bool = True,
    max_tree_depth: int = 10,
    dense_mass: bool = True,
    progress: bool | Callable[[int], None] = False,
    workers: int | None = None,
    min_evals: Mapping[str, int] | None = None,
) -> Fits:
    """Posterior of every (layer, likelihood) pair, with enforced convergence diagnostics.

    Parameters
    ----------
    spectra
        A :class:`~rmtfit.spectra.Spectra` or a sequence of :class:`~rmtfit.spectra.Spectrum`.
    likelihoods
        Names or :class:`~rmtfit.likelihoods.Likelihood` objects; default
        ``rmtfit.likelihoods.DEFAULT_LIKELIHOODS``.
    classical
        Layer name -> :class:`~rmtfit.classical.ClassicalFit`; layers missing here are fitted
        with :func:`rmtfit.classical.fit_classical`. Tail likelihoods take their xmin from it and
        every chain starts at the estimates it implies (``lik.init``). When that classical fit
        raises, every pair of the layer is ``failed`` with "classical fit failed: <error>"
        (``classical={name: None}`` fits the layer without classical estimates).
    seed
        Seed of every random choice (same seed, same output). A pair's draws depend only on the
        seed, the likelihood and the layer name, not on the other layers of the run.
    draws, warmup, chains
        Post-warmup draws per chain, warmup (adaptation) iterations per chain, chains per pair.
        Each chain starts from the Laplace approximation of the posterior (its mode and
        curvature, found by a few Newton steps from the classical estimates) and NUTS runs on
        coordinates whitened by it, so a short warmup suffices. 4 x 500 draws give a bulk ESS
        well above 400 for most posteriors; a pair that falls short only for want of draws is
        extended (``extend``) rather than restarted.
    extend
        Continuations of ``draws`` more draws per chain (same adapted chains, no new warmup)
        allowed for a pair whose only problems are a bulk ESS below 400 (but at least 100) or
        an R-hat in (1.01, 1.05], with no divergence: the cheap fix for a shortfall of effective
        draws. Pairs whose chains disagree (R-hat > 1.05), diverge or barely move go to the
        retry. ``extend=0`` turns it off.
    backend
        ``"numpyro"`` (batched, the default) or ``"pymc"`` (PyMC's own NUTS on the same JAX
        likelihood, one layer at a time: a cross-check; needs the ``pymc`` extra).
    target_accept
        Target acceptance probability of the step-size adaptation.
    ci_prob
        Probability of the equal-tailed credible intervals of :attr:`Fits.summary`
        (default :data:`rmtfit.common.CI_PROB`, the same as every other output).
    retry
        Re-run the pairs that fail the diagnostics (after any extension) once: new chains
        (new seeds, a new Laplace start) with ``target_accept=max(0.95, target_accept)``, the
        same warmup and draws (so the compiled programs are reused), extensions allowed.
    exact
        Where a likelihood declares an exact posterior (``lik.exact_posterior``: the
        fixed-xmin power law under its Jeffreys prior), return independent exact draws instead
        of running NUTS (default). Only the registered likelihood with its declared priors
        qualifies: after ``with_priors`` the exact law no longer applies and NUTS runs.
        ``exact=False`` forces NUTS everywhere (the exact law is then a test oracle).
    max_tree_depth
        Maximum NUTS tree depth.
    dense_mass
        Adapt a dense mass matrix during warmup (default) instead of a diagonal one. The
        posteriors have 1-5 parameters, often correlated (``sigma2`` with ``spike_fraction``,
        ``xmin`` with ``alpha``); on all-MiniLM-L6-v2 the dense matrix cut ``mp_spikes``'s
        leapfrog steps per iteration from 13.4 to 9.5 and doubled its median bulk ESS
        (526 to 1105 of 4000 draws).
    progress
        ``True`` shows a progress bar over the sampled (layer, likelihood) pairs; a callable
        ``advance(n)`` is called instead as pairs finish (``n`` pairs at a time, every pair of
        the run counted once: pairs that need no sampling at the start), so that a caller's own
        bar, such as the one of ``rmtfit analyze``, shows one ETA over all pairs.
    workers
        Layers sampled at once (threads; default one per core, at most 8).
    min_evals
        Likelihood name -> the fewest eigenvalues a layer needs for that likelihood to be
        fitted at all (on top of the likelihood's own ``min_observations``); smaller layers
        get ``not_fitted`` with the reason. :func:`rmtfit.analyze` uses it to fit the
        full-spectrum models only where a phase can be read (``min_phase_evals``).

    Returns
    -------
    Fits
        Statuses: ``ok``; ``flagged`` (R-hat > 1.01, bulk ESS < 400 or any divergence after the
        retry, also raised as :class:`DiagnosticsWarning`); ``not_fitted`` (for example
        "needs >= k eigenvalues, got n"); ``failed`` (an error such as a NaN log-likelihood,
        named with the layer, likelihood and parameter values, raised as
        :class:`FitFailedWarning`).
    """
    if backend not in _BACKENDS:
        raise ValueError(f"The value of `backend` must be one of {_BACKENDS}; got {backend!r}.")
    settings = _nuts.SamplerSettings(
        draws=draws,
        warmup=warmup,
        chains=chains,
        target_accept=target_accept,
        max_tree_depth=max_tree_depth,
        dense_mass=dense_mass,
    )
    ci_prob = check_ci_prob(ci_prob)
    enable_x64()
    items = _spectra_list(spectra)
    liks = _likelihood_list(likelihoods)
    classical_map, classical_errors = _classical_map(items, classical)
    _nuts.enable_compilation_cache()

    status: dict[tuple[str, str], tuple[str, str]] = {}
    prepared: dict[str, list[Prepared]] = {}
    for lik in liks:
        prepared[lik.name] = []
        for s in items:
            if s.name in classical_errors:
                status[(s.name, lik.name)] = ("failed", classical_errors[s.name])
                continue
            least = int((min_evals or {}).get(lik.name, 0))
            if s.num_evals < least:
                status[(s.name, lik.name)] = (
                    "not_fitted",
                    f"{s.num_evals} eigenvalues, fewer than the {least} this run fits "
                    f"{lik.name!r} on (min_evals)",
                )
                continue
            p = prepare(lik, s, classical_map.get(s.name))
            if isinstance(p, Prepared):
                prepared[lik.name].append(p)
            else:
                status[(s.name, lik.name)] = p

    from rmtfit.inference._exact import exact_fits, has_exact

    results: dict[tuple[str, str], LayerFit | tuple[str, str]] = {}
    jobs: list[tuple[Any, _batch.Batch]] = []
    for lik in liks:
        if exact and has_exact(lik):
            results.update(exact_fits(lik, prepared[lik.name], settings, seed))
            continue
        batches, bad = _batches(lik, prepared[lik.name])
        status.update({(layer, lik.name): v for layer, v in bad.items()})
        jobs.extend((lik, b) for b in batches)

    n_workers = workers or _default_workers()
    start = time.perf_counter()
    n_sampled = sum(len(b) for _, b in jobs)
    with _pair_progress(progress, n_sampled, len(items) * len(liks) - n_sampled) as advance:
        if backend == "pymc":
            from rmtfit.inference._pymc import sample_pymc

            results.update(sample_pymc(jobs, settings, seed=seed, attempt=0, advance=advance))
        else:
            results.update(
                sample_batches(
                    jobs, settings, seed=seed, workers=n_workers, advance=advance, extensions=extend
                )
            )
    fits = {k: v for k, v in results.items() if isinstance(v, LayerFit)}
    status.update({k: v for k, v in results.items() if not isinstance(v, LayerFit)})
    issues = _check(fits)
    first_pass_seconds = time.perf_counter() - start

    bad_keys = [k for k, v in issues.items() if v]
    # same lengths (the compiled programs are reused: the target is an input), new chains
    retry_settings = replace(settings, target_accept=max(0.95, settings.target_accept))
    first_issues = {k: issues[k] for k in bad_keys}
    first_fits = dict(fits)
    start = time.perf_counter()
    if retry and bad_keys:
        fits, status, issues = _retry(
            bad_keys,
            fits,
            status,
            issues,
            liks,
            prepared,
            retry_settings,
            seed,
            backend,
            n_workers,
            extend,
        )
    retry_seconds = time.perf_counter() - start
    for k in fits:
        if issues[k]:
            how = (
                f"after a retry with new chains, target_accept={retry_settings.target_accept}"
                if retry
                else "retry=False"
            )
            status[k] = ("flagged", f"{'; '.join(issues[k])} ({how})")
        elif k in first_issues:
            status[k] = ("ok", f"ok after a retry (first attempt: {'; '.join(first_issues[k])})")
        else:
            status[k] = ("ok", "")
    _warn(status)
    layers = [s.name for s in items]
    names = [lik.name for lik in liks]
    attrs = {
        "seed": int(seed),
        "draws": int(draws),
        "warmup": int(warmup),
        "chains": int(chains),
        "target_accept": float(target_accept),
        "max_tree_depth": int(max_tree_depth),
        "dense_mass": int(bool(dense_mass)),
        "backend": backend,
        "exact": int(bool(exact)),
        "retry": int(bool(retry)),
        "extend": int(extend),
    }
    summary = build_summary(fits, status, layers, names, ci_prob, attrs)
    # where the sampling time went (not in the summary: it is not reproducible)
    attrs["seconds_first_pass"] = round(first_pass_seconds, 3)
    attrs["seconds_retry"] = round(retry_seconds, 3)
    attrs["num_retried"] = len(bad_keys) if retry else 0
    retried = [f for k, f in fits.items() if f is not first_fits.get(k)]
    attrs["leapfrog_steps"] = sum(_leapfrog_steps(f) for f in [*first_fits.values(), *retried])
    attrs["num_extended"] = sum(int(f.attrs.get("extensions", 0)) > 0 for f in first_fits.values())
    return Fits(
        fits,
        {(layer, n): status[(layer, n)] for n in names for layer in layers},
        layers,
        names,
        summary,
        {**attrs, "ci_prob": float(ci_prob)},
        {lik.name: lik for lik in liks},
        spectra=items,
        classical=classical_map,
    )


def _retry(
    bad_keys: list[tuple[str, str]],
    fits: dict[tuple[str, str], LayerFit],
    status: dict[tuple[str, str], tuple[str, str]],
    issues: dict[tuple[str, str], list[str]],
    liks: Sequence[Any],
    prepared: Mapping[str, list[Prepared]],
    settings: _nuts.SamplerSettings,
    seed: int,
    backend: str,
    workers: int,
    extend: int,
) -> tuple[dict, dict, dict]:
    jobs: list[tuple[Any, _batch.Batch]] = []
    for lik in liks:
        layers = {layer for layer, name in bad_keys if name == lik.name}
        todo = [p for p in prepared[lik.name] if p.layer in layers]
        first = {
            layer: int(fits[(layer, lik.name)].attrs["bucket"])
            for layer in layers
            if "bucket" in fits[(layer, lik.name)].attrs
        }
        batches, _ = _batches(lik, todo, first)
        jobs.extend((lik, b) for b in batches)
    if backend == "pymc":
        from rmtfit.inference._pymc import sample_pymc

        again = sample_pymc(jobs, settings, seed=seed, attempt=1)
    else:
        again = sample_batches(
            jobs, settings, seed=seed, attempt=1, workers=workers, extensions=extend
        )
    fits = dict(fits)
    status = dict(status)
    for k, v in again.items():
        if isinstance(v, LayerFit):
            fits[k] = v
        else:  # an error on retry: keep the first draws, flag them with both reasons
            issues[k] = issues[k] + [f"retry failed: {v[1]}"]
    issues = dict(issues)
    issues.update(_check({k: fits[k] for k in again if isinstance(again[k], LayerFit)}))
    return fits, status, issues


def _warn(status: Mapping[tuple[str, str], tuple[str, str]]) -> None:
    for (layer, lik), (s, reason) in status.items():
        if s == "flagged":
            warnings.warn(
                _diagnostics.DiagnosticsWarning(f"layer {layer!r}, likelihood {lik!r}: {reason}"),
                stacklevel=3,
            )
        elif s == "failed":
            warnings.warn(FitFailedWarning(reason), stacklevel=3)
