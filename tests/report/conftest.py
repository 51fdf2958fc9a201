"""Synthetic :class:`rmtfit.Analysis` objects for the report tests.

The report writers read an ``Analysis`` and nothing else, so these tests build one by hand from
random Wishart spectra, without running the other stages (those run in tests/test_analysis.py).
The classical and posterior numbers are computed from the synthetic spectra with textbook
formulas; the report tests check that they are carried, formatted and escaped correctly.
"""

from __future__ import annotations

import numpy as np
import pytest

from rmtfit.classical import ClassicalFit
from rmtfit.pipeline import Analysis, Estimate, LayerResult, Predictive
from rmtfit.report import PHASES
from rmtfit.spectra import Skipped, Spectra, Spectrum

XSS_NAME = "<script>alert(1)</script>"
NAMES = ("encoder.0.weight", XSS_NAME, "head & tail \"quoted\" 'name'", "décodeur.β.weight")


def _wishart(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    w = rng.standard_normal((n, m)) / np.sqrt(n)
    return np.linalg.svd(w, compute_uv=False) ** 2


def _classical(spectrum: Spectrum) -> ClassicalFit:
    x = spectrum.eigenvalues
    xmin = float(np.quantile(x, 0.75))
    tail = x[x >= xmin]
    alpha = 1.0 + tail.size / float(np.sum(np.log(tail / xmin)))
    sigma2 = float(np.mean(x)) / spectrum.N  # E[lambda] = N sigma^2 for the MP law
    q = spectrum.Q
    lambda_plus = spectrum.N * sigma2 * (1 + q**-0.5) ** 2
    return ClassicalFit(
        name=spectrum.name,
        status="ok",
        num_evals=spectrum.num_evals,
        N=spectrum.N,
        M=spectrum.M,
        alpha=alpha,
        alpha_se=(alpha - 1) / np.sqrt(tail.size),
        xmin=xmin,
        D=0.05,
        n_tail=int(tail.size),
        sigma2=sigma2,
        sigma_mp=sigma2**0.5,
        lambda_plus=lambda_plus,
        num_spikes=int(np.sum(x > 1.05 * lambda_plus)),
        alpha_unbiased=1.0 + (tail.size - 1) / tail.size * (alpha - 1.0),
        sigma2_gd=0.98 * sigma2,
    )


def _metrics(x: np.ndarray) -> dict[str, float]:
    p = x / x.sum()
    return {
        "lambda_max": float(x[-1]),
        "log_spectral_norm": float(np.log10(x[-1])),
        "log_norm": float(np.log10(x.sum())),
        "stable_rank": float(x.sum() / x[-1]),
        "entropy": float(-(p * np.log(p)).sum() / np.log(x.size)),
        "numerical_rank": float(x.size),
        "rank_loss": 0.0,
    }


def _full_parts(
    rng: np.random.Generator, spectrum: Spectrum, fit: ClassicalFit, ci_prob: float
) -> dict:
    alpha_draws = fit.alpha + fit.alpha_se * rng.standard_normal(400)
    sigma_draws = fit.sigma_mp * (1 + 0.01 * rng.standard_normal(400))
    q = spectrum.Q
    posterior = {
        "alpha": Estimate.from_draws(alpha_draws, ci_prob, "power_law"),
        "xmin": None,
        "sigma_mp": Estimate.from_draws(sigma_draws, ci_prob, "mp_spikes"),
        "lambda_plus": Estimate.from_draws(
            spectrum.N * sigma_draws**2 * (1 + q**-0.5) ** 2, ci_prob, "mp_spikes"
        ),
        "num_spikes": Estimate.from_draws(rng.poisson(0.3, 400), ci_prob, "mp_spikes"),
    }
    probs = rng.dirichlet(np.ones(len(PHASES)))
    phase = {
        "probabilities": dict(zip(PHASES, probs.tolist(), strict=True)),
        "map": PHASES[int(np.argmax(probs))],
    }
    models = {
        "mp_spikes": {
            "family": "full",
            "status": "ok",
            "weight": 1.0,
            "elpd_loo": -120.5,
            "se": 4.2,
            "max_pareto_k": 0.31,
            "r_hat_max": 1.003,
            "ess_bulk_min": 812.0,
            "divergences": 0,
        },
        "power_law": {
            "family": "tail",
            "status": "ok",
            "weight": 0.7,
            "elpd_loo": 15.0,
            "se": 2.0,
            "max_pareto_k": 0.2,
            "r_hat_max": 1.001,
            "ess_bulk_min": 950.0,
            "divergences": 0,
        },
        "truncated_power_law": {
            "family": "tail",
            "status": "flagged",
            "reason": "r_hat 1.02 > 1.01",
            "weight": 0.3,
            "elpd_loo": 14.1,
            "se": 2.1,
            "max_pareto_k": float("nan"),
            "r_hat_max": 1.02,
            "ess_bulk_min": 300.0,
            "divergences": 2,
        },
    }
    # posterior predictive: 8 fresh Wishart spectra of the same shape
    draws = np.stack([_wishart(rng, spectrum.N, spectrum.M) for _ in range(8)])
    predictive = (Predictive("mp_spikes", "full", draws, 1.0),)
    return {"posterior": posterior, "phase": phase, "models": models, "predictive": predictive}


def make_analysis(mode: str = "fast", names: tuple[str, ...] = NAMES, seed: int = 0) -> Analysis:
    """An Analysis of random Wishart layers, with one failed (NaN) tensor and one skipped bias."""
    rng = np.random.default_rng(seed)
    ci_prob = 0.9
    spectra_list = [
        Spectrum(name, "linear", 120, 40 + 10 * i, _wishart(rng, 120, 40 + 10 * i))
        for i, name in enumerate(names)
    ]
    skipped = (
        Skipped(
            "broken.weight",
            (30, 20),
            "non-finite values (NaN/Inf) in the weights: 3 NaN",
            failed=True,
        ),
        Skipped("encoder.0.bias", (40,), "1-D tensor (bias or norm), not a matrix"),
    )
    spectra = Spectra(tuple(spectra_list), skipped, source="synthetic.safetensors")
    layers, predictive, classical = [], {}, {}
    for i, s in enumerate(spectra_list):
        fit = _classical(s)
        classical[s.name] = fit
        extra = _full_parts(rng, s, fit, ci_prob) if mode == "full" else {}
        if extra:
            predictive[s.name] = extra.pop("predictive")
        layers.append(
            LayerResult(
                name=s.name,
                status="ok",
                kind=s.kind,
                N=s.N,
                M=s.M,
                num_evals=s.num_evals,
                shape=(s.N, s.M),
                layer_id=i,
                metrics=_metrics(s.eigenvalues),
                classical=fit,
                **extra,
            )
        )
    layers.append(
        LayerResult(
            name="broken.weight",
            status="failed",
            reason=skipped[0].reason,
            N=30,
            M=20,
            shape=(30, 20),
            layer_id=len(layers),
        )
    )
    layers.append(
        LayerResult(name="encoder.0.bias", status="skipped", reason=skipped[1].reason, shape=(40,))
    )
    network = None
    if mode == "full":
        network = {
            "alpha_mean": Estimate.from_draws(3.0 + 0.1 * rng.standard_normal(400), ci_prob),
            "alpha_weighted": Estimate.from_draws(1.5 + 0.1 * rng.standard_normal(400), ci_prob),
            "log_spectral_norm": None,
        }
    return Analysis(
        source=spectra.source,
        mode=mode,
        seed=seed,
        ci_prob=ci_prob,
        layers=tuple(layers),
        spectra=spectra,
        likelihoods=("mp_spikes", "power_law", "truncated_power_law") if mode == "full" else (),
        classical=classical,
        network_summary=network,
        predictive=predictive,
    )


@pytest.fixture(scope="module", params=["fast", "full"])
def analysis(request: pytest.FixtureRequest) -> Analysis:
    return make_analysis(request.param)


@pytest.fixture(scope="module")
def fast_analysis() -> Analysis:
    return make_analysis("fast")


@pytest.fixture(scope="module")
def full_analysis() -> Analysis:
    return make_analysis("full")


@pytest.fixture(scope="session")
def analysis_factory():
    """``analysis_factory(mode="fast", names=NAMES, seed=0) -> Analysis``."""
    return make_analysis


@pytest.fixture(scope="session")
def xss_name() -> str:
    return XSS_NAME
