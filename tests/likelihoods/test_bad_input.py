"""Bad input: a ValueError that names the parameter or value, and the allowed range."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from rmtfit.likelihoods import get_likelihood
from rmtfit.likelihoods._check import synthetic_layer
from rmtfit.likelihoods.helpers import check_context, validate_observations


@pytest.fixture(scope="module")
def layer():
    return synthetic_layer(0)


@pytest.mark.parametrize("name", ["power_law", "mp_spikes", "spliced_pl"])
def test_negative_nan_and_empty_eigenvalues_are_rejected(name, layer):
    lik = get_likelihood(name)
    spectrum, classical = layer
    x = lik.observations(spectrum, classical)
    ctx = lik.context(x, spectrum, classical)
    bad = x.copy()
    bad[3] = -0.5
    with pytest.raises(ValueError, match=r"x\[3\] = -0\.5 is negative.*\[0, inf\)"):
        validate_observations(lik, bad, ctx)
    bad[3] = np.nan
    with pytest.raises(ValueError, match=r"x\[3\] = nan is not finite"):
        validate_observations(lik, bad, ctx)
    with pytest.raises(ValueError, match="empty data"):
        validate_observations(lik, x[:0], ctx)
    with pytest.raises(ValueError, match="needs >= "):
        validate_observations(lik, x[:1], ctx)


def test_full_spectrum_models_reject_zero_eigenvalues(layer):
    lik = get_likelihood("mp_spikes")
    spectrum, classical = layer
    x = np.concatenate([[0.0], spectrum.eigenvalues])
    with pytest.raises(ValueError, match=r"is zero.*\(0, inf\)"):
        validate_observations(lik, x, {"N": 400.0, "Q": 2.0})


def test_xmin_at_or_above_the_largest_eigenvalue_is_rejected(layer):
    spectrum, classical = layer
    top = float(spectrum.eigenvalues.max())
    for name in ("power_law", "lognormal", "frechet_topk"):
        lik = get_likelihood(name)
        bad = SimpleNamespace(**{**vars(classical), "xmin": top})
        with pytest.raises(ValueError, match=r"xmin = .* (outside its allowed range|at or above)"):
            lik.context(spectrum.eigenvalues, spectrum, bad)
        x = lik.observations(spectrum, classical)
        with pytest.raises(ValueError, match=r"xmin = .*allowed range \(0, largest eigenvalue"):
            validate_observations(lik, x, {"xmin": top * 2})


def test_aspect_ratio_below_one_is_rejected(layer):
    spectrum, classical = layer
    flipped = SimpleNamespace(**{**vars(spectrum), "N": spectrum.M, "M": spectrum.N, "Q": 0.5})
    for name in ("mp_spikes", "spliced_mp", "power_law"):
        lik = get_likelihood(name)
        with pytest.raises(ValueError, match=r"Q = N/M below 1 \(allowed range \[1, inf\)\)"):
            lik.context(lik.observations(spectrum, classical), flipped, classical)
    with pytest.raises(ValueError, match=r"Q = 0\.5 is below 1; allowed range \[1, inf\)"):
        check_context({"Q": 0.5, "N": 10.0})


@pytest.mark.parametrize(
    ("name", "parameter", "value", "allowed"),
    [
        ("power_law", "alpha", 0.5, r"\(1\.01, 12\)"),
        ("power_law", "alpha", np.nan, r"\(1\.01, 12\)"),
        ("mp_spikes", "sigma2", -1.0, r"\(> 0\)"),
        ("mp_spikes", "spike_fraction", 1.5, r"\(0, 1\)"),
        ("spliced_pl", "xmin", 0.0, r"\(> 0\)"),
        ("cutoff_power_law", "rate", -2.0, r"\(> 0\)"),
    ],
)
def test_parameter_outside_its_constraint_names_it_value_and_range(name, parameter, value, allowed):
    lik = get_likelihood(name)
    spectrum, classical = synthetic_layer(0)
    ctx = lik.context(lik.observations(spectrum, classical), spectrum, classical)
    params = {**lik.init(ctx), parameter: value}
    pattern = rf"parameter `{parameter}` = {value!r} is outside its allowed range {allowed}"
    with pytest.raises(ValueError, match=pattern.replace("nan", "nan")):
        lik.check_params(params)


def test_tail_likelihood_without_classical_xmin_says_so(layer):
    spectrum, _ = layer
    lik = get_likelihood("power_law")
    with pytest.raises(ValueError, match="needs the classical xmin"):
        lik.observations(spectrum, SimpleNamespace(xmin=np.nan))
