"""`rmtfit.fit` end to end on power-law layers: inputs, outputs, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SETTINGS, power_law_layers

import rmtfit
from rmtfit.common import CI_PROB
from rmtfit.inference import Fits, LayerFit


def test_public_names_are_exported_and_documented():
    import rmtfit.inference as inference

    for name in inference.__all__:
        obj = getattr(inference, name)
        if callable(obj):
            assert obj.__doc__, f"rmtfit.inference.{name} has no docstring"
    assert rmtfit.fit is inference.fit
    assert rmtfit.Fits is inference.Fits


def test_every_pair_is_ok_with_the_declared_outputs(three_layer_fits):
    spectra, _, fits = three_layer_fits
    assert isinstance(fits, Fits)
    assert fits.layers == ("l0", "l1", "l2")
    assert fits.likelihoods == ("power_law",)
    for s in spectra:
        assert fits.status(s.name, "power_law") == "ok", fits.reason(s.name, "power_law")
        f = fits[s.name, "power_law"]
        assert isinstance(f, LayerFit)
        assert f.posterior["alpha"].shape == (SETTINGS["chains"], SETTINGS["draws"])
        assert f.log_likelihood.shape == (4, 1000, s.eigenvalues.size)
        np.testing.assert_array_equal(f.observed, s.eigenvalues)
        assert set(f.sample_stats) >= {"diverging", "lp", "acceptance_rate", "tree_depth"}
        assert f.attrs["attempt"] == 0


def test_inference_data_has_the_groups_consumers_read(three_layer_fits):
    spectra, _, fits = three_layer_fits
    idata = fits.idata("l1", "power_law")
    for group in ("posterior", "sample_stats", "log_likelihood", "observed_data", "constant_data"):
        assert group in idata.groups(), group
    assert idata.log_likelihood["obs"].shape == (4, 1000, 200)
    np.testing.assert_array_equal(idata.observed_data["obs"].values, spectra[1].eigenvalues)
    assert float(idata.constant_data["xmin"]) == 1.0
    attrs = idata.posterior.attrs
    assert (attrs["layer"], attrs["likelihood"], attrs["family"], attrs["status"]) == (
        "l1",
        "power_law",
        "tail",
        "ok",
    )
    # the pointwise log-likelihood is the likelihood's logpdf at each draw
    lik = rmtfit.get_likelihood("power_law")
    a = float(idata.posterior["alpha"][2, 17])
    expected = np.asarray(lik.logpdf(spectra[1].eigenvalues, {"alpha": a}, {"xmin": 1.0}))
    np.testing.assert_allclose(idata.log_likelihood["obs"][2, 17].values, expected, rtol=1e-12)


def test_summary_is_tidy_and_matches_the_draws(three_layer_fits):
    _, _, fits = three_layer_fits
    s = fits.summary
    assert s["mean"].dims == ("layer", "likelihood", "parameter")
    for name in ("mean", "sd", "ci_low", "ci_high", "r_hat", "ess_bulk", "ess_tail", "divergences"):
        assert name in s, name
    assert s.attrs["ci_prob"] == CI_PROB == 0.9  # the one default of every output
    draws = fits.draws("l2", "power_law", "alpha").ravel()
    row = s.sel(layer="l2", likelihood="power_law", parameter="alpha")
    assert float(row["mean"]) == pytest.approx(draws.mean(), rel=1e-12)
    assert float(row["sd"]) == pytest.approx(draws.std(ddof=1), rel=1e-12)
    assert float(row["ci_low"]) == pytest.approx(np.quantile(draws, 0.05), rel=1e-12)
    assert float(row["ci_high"]) == pytest.approx(np.quantile(draws, 0.95), rel=1e-12)
    assert str(s["status"].sel(layer="l2", likelihood="power_law").item()) == "ok"
    assert int(s["divergences"].sel(layer="l2", likelihood="power_law")) == 0


def test_same_seed_same_draws_and_other_seed_other_draws(three_layer_fits):
    spectra, classical, fits = three_layer_fits
    again = rmtfit.fit(spectra, ["power_law"], classical=classical, seed=7, **SETTINGS)
    np.testing.assert_array_equal(
        again.draws("l0", "power_law", "alpha"), fits.draws("l0", "power_law", "alpha")
    )
    other = rmtfit.fit(spectra, ["power_law"], classical=classical, seed=8, **SETTINGS)
    assert not np.array_equal(
        other.draws("l0", "power_law", "alpha"), fits.draws("l0", "power_law", "alpha")
    )


def test_mapping_and_single_list_inputs_are_accepted():
    spectra, classical = power_law_layers([3.0, 3.0, 3.0], [60, 200, 400], seed=1)
    by_name = {s.name: s.eigenvalues for s in spectra}
    fits = rmtfit.fit(by_name, "power_law", classical=classical, seed=7, **SETTINGS)
    assert fits.layers == ("l0", "l1", "l2")
    assert fits.pairs("ok") == [(n, "power_law") for n in ("l0", "l1", "l2")]


def test_bad_arguments_name_the_value_and_the_allowed_range():
    spectra, classical = power_law_layers([3.0], [50], seed=0)
    with pytest.raises(ValueError, match="backend.*'stan'"):
        rmtfit.fit(spectra, "power_law", classical=classical, backend="stan")
    with pytest.raises(ValueError, match=r"ci_prob.*\(0, 1\)"):
        rmtfit.fit(spectra, "power_law", classical=classical, ci_prob=1.5)
    with pytest.raises(ValueError, match="draws.*positive integer"):
        rmtfit.fit(spectra, "power_law", classical=classical, draws=0)
    with pytest.raises(KeyError, match="unknown likelihood 'nope'"):
        rmtfit.fit(spectra, "nope", classical=classical)
    with pytest.raises(ValueError, match="duplicate layer names"):
        rmtfit.fit([spectra[0], spectra[0]], "power_law", classical=classical)
    with pytest.raises(ValueError, match="layer 'bad'.*not finite"):
        rmtfit.fit({"bad": [1.0, np.nan, 2.0]}, "power_law")
    with pytest.raises(TypeError, match="Spectra"):
        rmtfit.fit([np.ones(3)], "power_law")


def test_cache_dir_follows_the_environment_variable(monkeypatch, tmp_path):
    from rmtfit.inference import cache_dir

    monkeypatch.setenv("RMTFIT_JAX_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.setenv("RMTFIT_JAX_CACHE", "")
    assert cache_dir() is None
    monkeypatch.delenv("RMTFIT_JAX_CACHE")
    assert cache_dir().parts[-3:] == (".cache", "rmtfit", "jax")


def test_power_law_uses_its_exact_posterior_by_default_but_not_under_other_priors():
    import numpyro.distributions as dist

    spectra, classical = power_law_layers([3.0, 3.0, 3.0], [60, 200, 400], seed=1)
    fits = rmtfit.fit(spectra, "power_law", classical=classical, seed=7)
    assert fits["l0", "power_law"].attrs["sampler"] == "exact"
    assert fits.status("l0", "power_law") == "ok"
    narrow = rmtfit.get_likelihood("power_law").with_priors(
        alpha=lambda ctx: dist.Uniform(2.0, 4.0)
    )
    fits = rmtfit.fit(spectra, narrow, classical=classical, seed=7, **SETTINGS | {"exact": True})
    f = fits["l0", "power_law"]
    assert f.attrs.get("sampler", "nuts") != "exact"
    assert "acceptance_rate" in f.sample_stats  # NUTS ran
    assert f.posterior["alpha"].min() > 2.0 and f.posterior["alpha"].max() < 4.0


def test_progress_bar_counts_the_layers(capsys, monkeypatch):
    spectra, classical = power_law_layers([2.5, 3.0, 4.0], [60, 200, 400], seed=1)
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # the bar is shown on a terminal only
    rmtfit.fit(spectra, "power_law", classical=classical, seed=7, progress=True, **SETTINGS)
    captured = capsys.readouterr()
    assert "sampling layers" in captured.err and "3/3" in captured.err
    assert captured.out == ""  # progress goes to stderr, never into a command's output


def test_progress_bar_is_silent_off_a_terminal(capsys, monkeypatch):
    spectra, classical = power_law_layers([2.5, 3.0], [60, 200], seed=1)
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    rmtfit.fit(spectra, "power_law", classical=classical, seed=7, progress=True, **SETTINGS)
    captured = capsys.readouterr()
    assert "sampling layers" not in captured.out + captured.err


def test_bucket_sizes_pad_little_and_merge_small_buckets():
    from rmtfit.inference._batch import bucket_size, bucket_sizes

    assert [bucket_size(n) for n in (1, 64, 65, 384, 385, 512, 513, 3000)] == [
        64,
        64,
        80,
        384,
        448,
        512,
        640,
        3072,
    ]
    for n in range(1, 5000, 7):
        b = bucket_size(n)
        assert b >= n and (n <= 64 or b - n < 0.25 * b)
    # 39 MiniLM-like layers of 384 share one bucket with no padding
    assert set(bucket_sizes([384] * 39)) == {384}
    # a lone small layer joins the big bucket (its padding costs less than a compile) ...
    assert bucket_sizes([100, 384, 384]) == [384, 384, 384]
    # ... but many small layers keep their own
    sizes = bucket_sizes([100] * 200 + [384] * 3)
    assert sizes[0] == 112 and sizes[-1] == 384


def test_a_likelihood_evaluated_per_eigenvalue_pads_small_layers_less():
    """mobilenet_v2's sizes: with the summed form (spliced_pl) padding is nearly free and every
    layer shares the 1024 bucket; mp_spikes pays per padded entry at every leapfrog step, so its
    64-eigenvalue layers must not be padded to 1,000 (they were, before the dense threshold)."""
    from rmtfit.classical import fit_classical
    from rmtfit.common import enable_x64
    from rmtfit.inference._engine import _batches, prepare
    from rmtfit.likelihoods import get_likelihood
    from rmtfit.spectra import Spectrum

    enable_x64()  # as fit() does: the contexts are computed in float64
    rng = np.random.default_rng(0)
    sizes = [64] * 8 + [96] * 6 + [160] * 6 + [320] * 2 + [1000]
    spectra = [
        Spectrum(f"l{i}", "matrix", 2 * n, n, np.sort(rng.chisquare(2 * n, n)))
        for i, n in enumerate(sizes)
    ]
    buckets = {}
    for name in ("mp_spikes", "spliced_pl"):
        lik = get_likelihood(name)
        prepared = [prepare(lik, s, fit_classical(s)) for s in spectra]
        assert all(not isinstance(p, tuple) for p in prepared), prepared
        batches, bad = _batches(lik, prepared)
        assert not bad
        buckets[name] = {b.size: len(b) for b in batches}
    assert buckets["spliced_pl"] == {1024: len(sizes)}
    assert buckets["mp_spikes"][1024] == 1  # only the 1,000-eigenvalue layer
    assert max(buckets["mp_spikes"]) == 1024 and min(buckets["mp_spikes"]) <= 160


_CHILD = """
import sys, numpy as np, rmtfit
from rmtfit.spectra import Spectrum
from rmtfit.classical import ClassicalFit
x = np.sort(1.0 / np.random.default_rng(3).uniform(size=80) ** 0.5)
s = Spectrum("l0", "matrix", 80, 80, x)
c = ClassicalFit("l0", "ok", num_evals=80, N=80, M=80, alpha=3.0, xmin=float(x[0]))
fits = rmtfit.fit([s], "power_law", classical={"l0": c}, seed=4, draws=200, warmup=200,
                  chains=2, exact=False, retry=False)
np.save(sys.argv[1], fits.draws("l0", "power_law", "alpha"))
"""


def test_a_warm_process_loads_the_exported_sampler_and_draws_the_same(tmp_path):
    """The first process compiles and exports the sampler into RMTFIT_JAX_CACHE; a second
    process loads it (no tracing of NUTS) and gives identical draws."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "RMTFIT_JAX_CACHE": str(tmp_path / "cache")}
    for name in ("cold.npy", "warm.npy"):
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(tmp_path / name)],
            env=env, capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-3000:]
        if name == "cold.npy":
            assert list((tmp_path / "cache" / "exported").glob("*.jaxexport"))
    np.testing.assert_array_equal(np.load(tmp_path / "cold.npy"), np.load(tmp_path / "warm.npy"))


def test_draws_do_not_depend_on_how_many_layers_share_a_call():
    """One layer per call (the default) and two per call (the last group padded with a copy of
    its layer, which is dropped) give bit-identical draws: a lane depends only on its layer."""
    from rmtfit.inference import _engine, _nuts, _sampling
    from rmtfit.likelihoods import get_likelihood

    spectra, classical = power_law_layers([2.5, 3.0, 4.0], [60, 200, 150], seed=1)
    lik = get_likelihood("power_law")
    prepared = [_engine.prepare(lik, s, classical[s.name]) for s in spectra]
    jobs = [(lik, b) for b in _engine._batches(lik, prepared)[0]]
    settings = _nuts.SamplerSettings(draws=100, warmup=100, chains=2)
    one = _sampling.sample_batches(jobs, settings, seed=0, workers=2, layers_per_call=1)
    two = _sampling.sample_batches(jobs, settings, seed=0, workers=2, layers_per_call=2)
    assert sorted(one) == sorted(two) == [(s.name, "power_law") for s in spectra]
    for key in one:
        assert one[key].posterior["alpha"].shape == (2, 100)
        np.testing.assert_array_equal(one[key].posterior["alpha"], two[key].posterior["alpha"])
        np.testing.assert_array_equal(one[key].log_likelihood, two[key].log_likelihood)


def test_a_layer_whose_sampler_raises_fails_alone(monkeypatch):
    """An exception while sampling one layer marks that layer failed, with the error, and
    the other layers of the same bucket are sampled as usual."""
    import warnings

    from rmtfit.inference import FitFailedWarning, _nuts

    spectra, classical = power_law_layers([2.5, 3.0, 4.0], [60, 200, 150], seed=1)
    real = _nuts.run_nuts

    def flaky(lik, batch, settings, keys):
        if "l1" in batch.layers:
            raise RuntimeError("device lost")
        return real(lik, batch, settings, keys)

    monkeypatch.setattr(_nuts, "run_nuts", flaky)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fits = rmtfit.fit(spectra, "power_law", classical=classical, seed=0, **SETTINGS)
    assert fits.status("l1", "power_law") == "failed"
    assert "device lost" in fits.reason("l1", "power_law")
    assert fits.status("l0", "power_law") in ("ok", "flagged")
    assert fits.status("l2", "power_law") in ("ok", "flagged")
    assert any(issubclass(w.category, FitFailedWarning) for w in record)
