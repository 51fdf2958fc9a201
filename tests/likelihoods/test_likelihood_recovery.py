"""Recovery with NUTS (Tier 3, small): the default full-spectrum models find known structure.

Judged in posterior standard deviations, not fixed tolerances, on one layer per test, at every
seed of ``stat_checks.SEEDS`` (the replicated coverage checks are in
``tests/inference/test_recovery_full.py``). Slow: each fits with NUTS.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import rmtfit
from rmtfit.likelihoods import get_likelihood

sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests/: stat_checks, the seed list
from stat_checks import over_seeds  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    # short chains: flagged diagnostics are expected, the posterior is still informative
    pytest.mark.filterwarnings("ignore::rmtfit.inference._diagnostics.DiagnosticsWarning"),
]


def _posterior(fits, layer, name, variable):
    return np.asarray(fits.idata(layer, name).posterior[variable]).ravel()


@over_seeds
def test_mp_spikes_recovers_sigma2_and_the_spike_count(seed):
    from rmtfit.spectra import Spectrum

    rng = np.random.default_rng(seed)
    n_rows, n_cols, sigma2 = 600, 300, 0.0025
    w = rng.normal(scale=np.sqrt(sigma2), size=(n_rows, n_cols))
    u = np.linalg.qr(rng.normal(size=(n_rows, 3)))[0]
    v = np.linalg.qr(rng.normal(size=(n_cols, 3)))[0]
    w = w + u @ np.diag([3.0, 2.5, 2.0]) @ v.T  # three spikes far above the bulk
    eigenvalues = np.sort(np.linalg.eigvalsh(w.T @ w))
    spectrum = Spectrum("spiked", "linear", n_rows, n_cols, eigenvalues)
    fits = rmtfit.fit(
        [spectrum], likelihoods=["mp_spikes"], seed=seed, draws=300, warmup=300, chains=2
    )
    s2 = _posterior(fits, "spiked", "mp_spikes", "sigma2")
    assert abs(s2.mean() - sigma2) < 4 * s2.std() + 0.02 * sigma2, (seed, s2.mean(), s2.std())
    k = _posterior(fits, "spiked", "mp_spikes", "K")
    lambda_plus = n_rows * sigma2 * (1 + (n_rows / n_cols) ** -0.5) ** 2
    assert int(np.sum(eigenvalues > 1.3 * lambda_plus)) == 3  # separated from the bulk
    assert np.median(k) == pytest.approx(3, abs=1), (seed, np.bincount(k.astype(int)))


@over_seeds
def test_spliced_pl_recovers_alpha_and_xmin_from_its_own_draws(seed):
    import jax

    from rmtfit.spectra import Spectrum

    lik = get_likelihood("spliced_pl")
    truth = {"alpha": 3.0, "xmin": 4.0, "bulk_loc": 0.5, "bulk_scale": 0.8}
    x = np.sort(np.asarray(lik.sample(jax.random.PRNGKey(seed), truth, {}, 1500)))
    spectrum = Spectrum("spliced", "linear", 3000, 1500, x)
    fits = rmtfit.fit(
        [spectrum], likelihoods=["spliced_pl"], seed=seed, draws=300, warmup=300, chains=2
    )
    for name in ("alpha", "xmin"):
        draws = _posterior(fits, "spliced", "spliced_pl", name)
        assert abs(draws.mean() - truth[name]) < 4 * draws.std(), (
            seed,
            name,
            draws.mean(),
            draws.std(),
        )
