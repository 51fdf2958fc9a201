"""Tests written to kill the mutants of rmtfit.phases that the other tests let live (docs/mutation.md).

Each test places eigenvalues by hand around the edges the rules name (the MP edge lambda_+, the
Tracy-Widom band's end T, the alpha thresholds) and checks the phase the rules documented in
:mod:`rmtfit.phases` and :data:`rmtfit.phases.THRESHOLDS` assign, computing lambda_+, T and
P_RC here from their formulas (Johnstone 2001, Chiani 2014, the Beta posterior).
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
from scipy import stats

from rmtfit.likelihoods import Roles
from rmtfit.phases import THRESHOLDS, network_phases, phase_probabilities
from rmtfit.posterior import LayerPosteriors
from rmtfit.spectra import Spectrum

M = 200  # eigenvalues; N = 2 M rows (Q = 2), sigma^2 = 1
LAMBDA_PLUS = 2 * M * (1 + 2**-0.5) ** 2


def _edges(n, slices=1):
    """(lambda_+, T, s) of an N = 2n by n matrix: T = lambda_+ + c s, c the tw_band_prob quantile
    of the max of ``slices`` TW1 variables (Chiani: TW1 ~ Gamma(46.446, 0.186054) - 9.84801)."""
    rows, q = 2 * n, 2.0
    edge = rows * (1 + q**-0.5) ** 2
    scale = rows * (1 + q**-0.5) * (1 + np.sqrt(q)) ** (1 / 3) * rows ** (-2 / 3)
    p = THRESHOLDS["tw_band_prob"].value ** (1 / slices)
    return edge, edge + (stats.gamma.ppf(p, 46.446, scale=0.186054) - 9.84801) * scale, scale


def _band_end(slices=1):
    return _edges(M, slices)[1]


def _spectrum(beyond=0, in_band=0, zeros=0, slices=1, n=M, extra=()):
    """n eigenvalues: a bulk well inside the MP support, ``in_band`` in (lambda_+, T],
    ``beyond`` above T, ``zeros`` exact zeros and the ``extra`` values given."""
    edge, end, scale = _edges(n, slices)
    placed = [*np.linspace(edge + 1e-3 * scale, end - 1e-3 * scale, in_band),
              *np.linspace(1.5 * end, 3 * end, beyond), *extra, *np.zeros(zeros)]  # fmt: skip
    bulk = np.linspace(0.2 * edge, 0.9 * edge, n - len(placed))
    return Spectrum(
        name="L", kind="matrix", N=2 * n, M=n, eigenvalues=np.sort([*bulk, *placed]),
        num_slices=slices,
    )  # fmt: skip


def _fit(roles: Roles, **draws):
    posterior = {k: np.reshape(np.asarray(v, dtype=float), (1, -1)) for k, v in draws.items()}
    return az.from_dict(posterior=posterior, attrs={"family": "full", **roles.to_attrs()})


MP = Roles(kind="mp", bulk_scale="s2")
TAIL = Roles(kind="tail", tail_exponent="a")


def _phases(spectrum, alpha=None, weights=None, **thresholds):
    fits = {"my_mp": _fit(MP, s2=np.ones(40))}
    if alpha is not None:
        fits["my_tail"] = _fit(TAIL, a=alpha)
    return phase_probabilities(
        fits, spectrum, weights=weights or {n: 1.0 for n in fits}, thresholds=thresholds or None
    )


@pytest.mark.parametrize(
    ("beyond", "in_band", "phase"),
    [(10, 0, "bulk_spikes"), (1, 0, "bulk_spikes"), (11, 0, "bulk_decay"),
     (0, 2, "bleeding_out"), (0, 1, "random_like"), (0, 0, "random_like")],
)  # fmt: skip
def test_mp_rules_at_their_documented_boundaries(beyond, in_band, phase):
    """n = 200: at most max(1, 0.05 n) = 10 eigenvalues beyond T are a few spikes, 11 are a
    continuum (Bulk-decay); with none beyond T, more than 1 inside the band is Bleeding-out."""
    result = _phases(_spectrum(beyond=beyond, in_band=in_band))
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-12)
    assert result.probabilities[phase] == pytest.approx(1.0, abs=1e-9)  # P_RC ~ 1e-10
    assert result.map_phase == phase
    assert result.num_spikes == {beyond: 1.0}


@pytest.mark.parametrize(
    ("reach", "phase"), [(9.9, "bulk_decay"), (10.1, "heavy_tailed"), (1000.0, "heavy_tailed")]
)
def test_many_outliers_reaching_a_decade_beyond_the_band_are_heavy_tailed(reach, phase):
    """heavy_reach = 10: with more than max(1, 0.05 n) eigenvalues beyond T, Heavy-tailed when
    lambda_max > 10 T, else Bulk-decay; a few spikes stay Bulk+Spikes however far they reach."""
    end = _band_end()
    many = _spectrum(beyond=11, extra=(reach * end,))  # 12 beyond T, the largest at reach * T
    result = _phases(many)
    assert result.probabilities[phase] == pytest.approx(1.0, abs=1e-9)
    few = _phases(_spectrum(beyond=2, extra=(reach * end,)))
    assert few.map_phase == "bulk_spikes"
    assert _phases(many, heavy_reach=2.0 * reach).map_phase == "bulk_decay"


def test_a_tiny_spike_fraction_still_allows_one_spike():
    spectrum = _spectrum(beyond=1)
    assert _phases(spectrum, spike_fraction_max=0.001).map_phase == "bulk_spikes"
    assert _phases(_spectrum(beyond=2), spike_fraction_max=0.001).map_phase == "bulk_decay"


def test_pooled_slices_move_the_band_end_and_the_edge_excess():
    """With 3 slices T uses the 0.999^(1/3) quantile and Bleeding-out needs more than 3 in the
    band: a value between T(1 slice) and T(3 slices) is inside the band, not a spike."""
    between = 0.5 * (_band_end(1) + _band_end(3))
    assert _phases(_spectrum(extra=[between], slices=1)).map_phase == "bulk_spikes"
    assert _phases(_spectrum(in_band=3, extra=[between], slices=3)).map_phase == "bleeding_out"
    assert _phases(_spectrum(in_band=3, slices=3)).map_phase == "random_like"


def test_tail_rules_and_the_very_heavy_share_at_their_boundaries():
    """alpha <= 4 Heavy-tailed, 4 < alpha <= 8 Bulk-decay, alpha > 8 Random-like;
    p_very_heavy = P(alpha < 2)."""
    alpha = [1.9, 2.0, 4.0, 4.0, 4.5, 8.0, 8.0, 8.0, 8.5, 9.0]
    result = _phases(_spectrum(), alpha=alpha, weights={"my_mp": 0.0, "my_tail": 1.0})
    assert result.probabilities["heavy_tailed"] == pytest.approx(0.4)
    assert result.probabilities["bulk_decay"] == pytest.approx(0.4)
    assert result.probabilities["random_like"] == pytest.approx(0.2)
    assert result.p_very_heavy == pytest.approx(0.1)


def test_weights_mix_the_models_conditions_and_are_normalised():
    """P = sum_k w_k P_k with w normalised: weights 2 and 6 are 0.25 and 0.75."""
    spectrum = _spectrum(beyond=3)  # MP: Bulk+Spikes for every draw
    result = _phases(spectrum, alpha=[3.0, 3.0, 6.0, 10.0], weights={"my_mp": 2, "my_tail": 6})
    want = {"bulk_spikes": 0.25, "heavy_tailed": 0.75 * 0.5, "bulk_decay": 0.75 * 0.25,
            "random_like": 0.75 * 0.25, "bleeding_out": 0.0, "rank_collapse": 0.0}  # fmt: skip
    assert result.probabilities == pytest.approx(want, abs=1e-9)  # P_RC ~ 1e-10
    assert result.model_weights == pytest.approx({"my_mp": 0.25, "my_tail": 0.75})
    assert result.num_spikes == {3: 1.0}


def test_rank_collapse_share_is_the_beta_posterior_probability():
    """n0 zeros among n: P_RC = P(f > 0.10) under Beta(n0 + 1/2, n - n0 + 1/2); the five other
    phases share 1 - P_RC."""
    for zeros in (12, 20, 26):
        result = _phases(_spectrum(beyond=2, zeros=zeros))
        p_rc = stats.beta.sf(0.10, zeros + 0.5, M - zeros + 0.5)
        assert result.p_rank_collapse == pytest.approx(p_rc, rel=1e-12)
        assert result.zero_fraction == zeros / M
        assert result.probabilities["bulk_spikes"] == pytest.approx(1.0 - p_rc, rel=1e-12)
        assert result.map_phase == ("rank_collapse" if p_rc > 0.5 else "bulk_spikes")


def test_a_collapsed_layer_without_fits_gets_its_phase_from_the_spectrum_alone():
    collapsed = _spectrum(zeros=24)  # 12% zeros: P_RC about 0.8, the other phases share the rest
    result = phase_probabilities({}, collapsed)
    p_rc = stats.beta.sf(0.10, 24.5, M - 24 + 0.5)
    assert 0.5 < p_rc < 0.95
    assert result.p_rank_collapse == pytest.approx(p_rc) and result.map_phase == "rank_collapse"
    for phase in ("random_like", "bleeding_out", "bulk_spikes", "bulk_decay", "heavy_tailed"):
        assert result.probabilities[phase] == pytest.approx((1 - p_rc) / 5)
    assert (result.layer, result.zero_fraction, result.p_very_heavy) == ("L", 24 / M, 0.0)
    assert (result.model_weights, result.model_kinds, result.model_probabilities) == ({}, {}, {})
    assert result.num_spikes == {} and "no full-spectrum fit" in result.notes[0]
    # P_RC < 0.5: the spectrum alone says nothing; a fit is needed
    with pytest.raises(ValueError, match="at least one full-spectrum likelihood"):
        phase_probabilities({}, _spectrum(zeros=10))


def test_a_fit_without_its_declared_variables_is_an_error_naming_them():
    spectrum = _spectrum()
    with pytest.raises(
        ValueError, match="tail-kind likelihood 'my_tail' has no posterior variable 'a'"
    ):
        phase_probabilities({"my_tail": _fit(TAIL, b=[3.0])}, spectrum)
    with pytest.raises(ValueError, match=r"bulk_scale \(sigma\^2: 's2'\)"):
        phase_probabilities({"my_mp": _fit(MP, other=[1.0])}, spectrum)


def test_the_minimum_number_of_eigenvalues_is_inclusive():
    assert _phases(_spectrum(n=48, beyond=1)).map_phase == "bulk_spikes"
    with pytest.raises(ValueError, match="47 eigenvalues, fewer than the 48"):
        _phases(_spectrum(n=47, beyond=1))


def test_the_edge_from_a_bulk_edge_role_gives_the_same_phases():
    spectrum = _spectrum(beyond=2, in_band=1)
    by_scale = phase_probabilities({"my_mp": _fit(MP, s2=np.ones(8))}, spectrum)
    edge = Roles(kind="mp", bulk_edge="lp")
    by_edge = phase_probabilities({"my_mp": _fit(edge, lp=np.full(8, LAMBDA_PLUS))}, spectrum)
    assert by_scale.probabilities == pytest.approx(by_edge.probabilities)
    assert by_edge.map_phase == "bulk_spikes"


def test_bad_weights_are_errors_naming_the_layer():
    spectrum = _spectrum()
    for weights, match in (({"my_mp": -1.0}, "must be >= 0"), ({"my_mp": 0.0}, "positive sum"),
                           ({"nope": 1.0}, r"weights name likelihoods \['nope'\]")):  # fmt: skip
        with pytest.raises(ValueError, match=f"layer 'L'.*{match}"):
            _phases(spectrum, weights=weights)


class _FailedClassical:
    ok, reason = False, "too few values above xmin"


def test_network_phases_passes_thresholds_comparisons_and_classical_fits_through():
    """network_phases gives each layer what phase_probabilities would get for it."""
    spectrum = _spectrum(beyond=2)
    fits = {"my_tail": _fit(TAIL, a=[3.0, 5.0, 5.0, 9.0])}
    layers = [LayerPosteriors(spectrum, fits, classical=_FailedClassical())]
    default = network_phases(layers).layers[0]
    assert default.probabilities["bulk_decay"] == pytest.approx(0.5, abs=1e-9)
    assert default.notes[-1] == "classical fit: too few values above xmin"
    moved = network_phases(layers, thresholds={"alpha_heavy": 6.0}).layers[0]
    assert moved.probabilities["heavy_tailed"] == pytest.approx(0.75, abs=1e-9)
    collapsed = _spectrum(zeros=60)
    with_zeros = network_phases(
        [LayerPosteriors(collapsed, {})], thresholds={"rank_collapse_fraction": 0.5}
    )
    assert "L" in with_zeros.failed  # P_RC(f > 0.5) ~ 0 with 30% zeros: a fit is needed


def test_a_result_and_a_summary_as_dict_text_and_table():
    result = _phases(_spectrum(beyond=3))
    assert result.to_dict()["num_spikes"] == {"3": 1.0}
    assert repr(result).startswith("PhaseResult(layer='L', map='bulk_spikes', random_like=0.00, ")
    summary = network_phases([LayerPosteriors(_spectrum(beyond=3), {"my_mp": _fit(MP, s2=[1.0])})])
    table = summary.to_table()
    assert table.index.tolist() == ["L"] and table.loc["L", "map_phase"] == "bulk_spikes"
    assert table.loc["L", "bulk_spikes"] == pytest.approx(1.0, abs=1e-9)


class _DuckFits:
    """What :func:`rmtfit.posterior.layer_posteriors` reads of an :class:`rmtfit.Fits`: the layer
    and likelihood names, ``has`` and ``idata``; like a reloaded Fits, it holds no spectra."""

    def __init__(self, layer, idatas):
        self.layers, self.likelihoods, self._idatas = (layer,), tuple(idatas), dict(idatas)

    def has(self, layer, name):
        return layer in self.layers and name in self._idatas

    def idata(self, layer, name):
        return self._idatas[name]


def test_network_phases_reads_fits_with_the_spectra_passed_beside_them():
    """A Fits without its spectra needs spectra=...; the result is the LayerPosteriors one."""
    spectrum = _spectrum(beyond=3)
    fits = {"my_mp": _fit(MP, s2=np.ones(8))}
    from_fits = network_phases(_DuckFits("L", fits), spectra=[spectrum])
    assert from_fits.failed == {} and [r.layer for r in from_fits.layers] == ["L"]
    want = phase_probabilities(fits, spectrum)
    assert from_fits.layers[0].probabilities == pytest.approx(want.probabilities, abs=0)
    assert from_fits.layers[0].map_phase == "bulk_spikes"
    with pytest.raises(TypeError, match="Fits with spectra="):
        network_phases(_DuckFits("L", fits))


def test_network_phases_uses_each_layers_comparison_for_full_weighting():
    """weighting='full' takes the weights of the comparison given for the layer (here 1:3, as in
    test_weights_mix_...); without it, compare() would need pointwise log-likelihoods these
    hand-made fits lack, and the layer would fail."""
    from rmtfit.comparison import Comparison, ModelScore

    spectrum = _spectrum(beyond=3)
    fits = {"my_mp": _fit(MP, s2=np.ones(4)), "my_tail": _fit(TAIL, a=[3.0, 3.0, 6.0, 10.0])}
    weights = {"my_mp": 0.25, "my_tail": 0.75}
    scores = tuple(
        ModelScore(name=n, rank=i, elpd_loo=-1.0 - i, se=1.0, p_loo=1.0, elpd_diff=float(i),
                   dse=1.0, weight=w, pareto_k_max=0.1, num_high_k=0)
        for i, (n, w) in enumerate(sorted(weights.items(), key=lambda nw: -nw[1]))
    )  # fmt: skip
    comparison = Comparison(
        layer="L", family="full", num_observations=M, models=scores, weight_method="stacking",
        reliable=True, good_k=0.7,
    )  # fmt: skip
    layers = [LayerPosteriors(spectrum, fits)]
    summary = network_phases(layers, comparisons={"L": comparison}, weighting="full")
    assert summary.failed == {}
    result = summary.layers[0]
    assert result.model_weights == pytest.approx(weights, abs=1e-12)
    assert result.probabilities["bulk_spikes"] == pytest.approx(0.25, abs=1e-9)
    assert result.probabilities["heavy_tailed"] == pytest.approx(0.375, abs=1e-9)
    # a comparison keyed by another layer's name is not this layer's: compare() runs, and fails
    assert "L" in network_phases(layers, comparisons={"other": comparison}, weighting="full").failed


@pytest.mark.parametrize("slices", [None, 0])
def test_a_spectrum_without_a_slice_count_is_one_slice(slices):
    """num_slices None or 0 (a hand-made spectrum) is read as 1: a value between T(1 slice) and
    T(2 slices) is then beyond the band, a spike."""
    between = 0.5 * (_band_end(1) + _band_end(2))
    spectrum = _spectrum(extra=[between])
    spectrum = Spectrum(
        name="L", kind="matrix", N=2 * M, M=M, eigenvalues=spectrum.eigenvalues, num_slices=slices
    )
    assert _phases(spectrum).map_phase == "bulk_spikes"
    assert _phases(_spectrum(extra=[between], slices=2)).map_phase == "random_like"


def test_a_registered_likelihoods_missing_variables_are_named_from_its_declaration():
    """Fits of the built-in likelihoods store no role attributes; the error names the variable
    the registered declaration gives (spliced_pl: alpha; mp_spikes: sigma2, lambda_plus)."""
    from rmtfit.likelihoods import get_likelihood

    tail, mp = get_likelihood("spliced_pl").roles, get_likelihood("mp_spikes").roles
    spectrum = _spectrum()
    bare = az.from_dict(posterior={"other": np.ones((1, 4))}, attrs={"family": "full"})
    with pytest.raises(ValueError, match=f"no posterior variable '{tail.tail_exponent}'"):
        phase_probabilities({"spliced_pl": bare}, spectrum)
    with pytest.raises(
        ValueError,
        match=rf"sigma\^2: '{mp.bulk_scale}'\) or bulk_edge \(lambda_\+: '{mp.bulk_edge}'",
    ):
        phase_probabilities({"mp_spikes": bare}, spectrum)
