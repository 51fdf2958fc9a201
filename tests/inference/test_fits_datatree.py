"""fits.nc as a netCDF-4 group tree: xarray opens it, ArviZ reads its leaves, any name survives.

Most tests use small hand-made fits (no sampling): every variable kind the sampler produces
(float draws, integer counts, a per-eigenvalue derived quantity, boolean divergences), plus
layer and likelihood names chosen to break naive group names.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from conftest import SETTINGS, power_law_layers

import rmtfit
from rmtfit.inference import Fits, LayerFit, arviz_adapter
from rmtfit.inference import _io as fits_io
from rmtfit.inference._fits import build_summary

HOSTILE_LAYERS = [
    "encoder.layer.0.attention.self.query.weight",
    "a/b",
    "a//b",
    " spaced  name ",
    "ünïcødé ✓ 層",
    ".hidden",
    "..",
    "-dash",
    "~tilde",
    "%41",
    "summary",
    "",
]
CHAINS, DRAWS = 2, 50


def hand_made_fits(
    layers: list[str], likelihoods: tuple[str, ...] = ("lik_a", "lik/b.2"), seed: int = 0
) -> Fits:
    """Fits of every (layer, likelihood) with synthetic draws; both likelihoods are 'full'."""
    rng = np.random.default_rng(seed)
    shape = (CHAINS, DRAWS)
    fits, status = {}, {}
    for i, layer in enumerate(layers):
        n = 5 + i
        observed = np.sort(rng.gamma(2.0, size=n))
        for j, lik in enumerate(likelihoods):
            pointwise_base = -1.0 - observed + 0.1 * j
            fits[(layer, lik)] = LayerFit(
                layer=layer,
                likelihood=lik,
                posterior={
                    "alpha": 3.0 + 0.2 * rng.standard_normal(shape),
                    "offset": 1e6 + 1e-4 * rng.standard_normal(shape),  # too precise for float32
                    "K": rng.integers(0, 4, shape),
                    "spike_prob": rng.uniform(size=(*shape, n)),  # per eigenvalue
                },
                parameters=("alpha", "offset"),
                sample_stats={
                    "diverging": rng.uniform(size=shape) < 0.05,
                    "tree_depth": rng.integers(1, 6, shape),
                    "lp": -50.0 + rng.standard_normal(shape),
                    "step_size": np.full(shape, 0.3),
                },
                log_likelihood=pointwise_base + 0.02 * rng.standard_normal((*shape, n)),
                observed=observed,
                context={"N": 40.0, "xmin": 0.1 + 1e-13 * i},
                attrs={
                    "family": "full",
                    "sampler": "nuts",
                    "warmup": 100,
                    "role_kind": "tail",
                    "role_tail_exponent": "alpha",
                    "role_spike_probability": "spike_prob",
                },
            )
            status[(layer, lik)] = ("ok", "")
    summary = build_summary(fits, status, layers, likelihoods, 0.9, {"seed": 3})
    return Fits(fits, status, layers, likelihoods, summary, {"seed": 3, "draws": DRAWS})


@pytest.fixture(scope="module")
def hostile():
    return hand_made_fits(HOSTILE_LAYERS)


def test_group_names_are_safe_distinct_and_reversible():
    names = HOSTILE_LAYERS + ["a%2Fb", "%", "%25", "a.b", "A.B"]
    encoded = [fits_io.group_name(n) for n in names]
    assert len(set(encoded)) == len(names)
    for name, group in zip(names, encoded, strict=True):
        assert group and "/" not in group and group not in (".", "..")
        assert group.isascii() and " " not in group
        assert fits_io.real_name(group) == name
    assert fits_io.layer_group("summary") != fits_io.SUMMARY_GROUP
    assert fits_io.real_name(fits_io.layer_group("summary")) == "summary"
    assert fits_io.group_name("fc1.weight") == "fc1.weight"  # readable names stay readable


def test_hostile_names_round_trip_lean_and_pointwise(hostile, tmp_path):
    for pointwise in (False, True):
        path = tmp_path / f"fits-{pointwise}.nc"
        hostile.to_netcdf(path, pointwise=pointwise)
        back = Fits.from_netcdf(path)
        assert back.layers == tuple(HOSTILE_LAYERS)
        assert back.pairs() == hostile.pairs()
        assert back.pointwise is pointwise
        for layer, lik in hostile.pairs():
            a, b = hostile[layer, lik], back[layer, lik]
            assert (b.layer, b.likelihood) == (layer, lik)
            np.testing.assert_array_equal(b.observed, a.observed)
            assert dict(b.context) == dict(a.context)
            assert ("spike_prob" in b.posterior) is pointwise
            assert (b.log_likelihood is not None) is pointwise
        xr.testing.assert_identical(back.summary, hostile.summary)


def test_xarray_opens_the_tree_and_arviz_summarises_a_leaf(hostile, tmp_path):
    path = tmp_path / "fits.nc"
    hostile.to_netcdf(path)
    with xr.open_datatree(path, engine="h5netcdf") as tree:
        assert tree.attrs["format"] == fits_io.FORMAT
        assert "summary" in tree.children
        layer, lik = HOSTILE_LAYERS[4], "lik/b.2"
        node = tree[Fits.group_path(layer, lik)]
        assert node.attrs["layer"] == layer and node.attrs["likelihood"] == lik
        assert node.attrs["role_tail_exponent"] == "alpha"
        assert set(node.children) == {"posterior", "sample_stats", "observed_data", "constant_data"}
        posterior = node["posterior"].to_dataset()
        assert posterior["alpha"].dtype == np.float32  # stored lean
        assert posterior["offset"].dtype == np.float64  # float32 would lose its spread
        assert posterior["K"].dtype == np.int8
        assert node["sample_stats"].to_dataset()["diverging"].dtype == bool
        idata = arviz_adapter.from_datatree(node)
        table = arviz_adapter.summary(idata, var_names=["alpha"], round_to="none")
    expected = hostile.summary.sel(layer=layer, likelihood=lik, parameter="alpha")
    assert table.loc["alpha", "mean"] == pytest.approx(float(expected["mean"]), rel=1e-6)
    assert table.loc["alpha", "sd"] == pytest.approx(float(expected["sd"]), rel=1e-4)
    # ArviZ's R-hat of what is stored (the float32 draws), not of the float64 draws: the folded
    # R-hat ranks |x - median|, whose two middle values tie or not depending on the rounding
    stored = hostile[layer, lik].posterior["alpha"].astype(np.float32).astype(np.float64)
    reference = arviz_adapter.reference_diagnostics(stored)
    assert table.loc["alpha", "r_hat"] == pytest.approx(reference["r_hat"], rel=1e-12)
    assert table.loc["alpha", "ess_bulk"] == pytest.approx(reference["ess_bulk"], rel=1e-12)


def test_a_real_fit_reads_as_inference_data_with_arviz_summary(tmp_path):
    spectra, classical = power_law_layers([2.5, 3.0, 4.0], [60, 200, 400], seed=1)
    fits = rmtfit.fit(spectra, ["power_law"], classical=classical, seed=7, **SETTINGS)
    path = tmp_path / "fits.nc"
    fits.to_netcdf(path)
    with xr.open_datatree(path, engine="h5netcdf") as tree:
        idata = arviz_adapter.from_datatree(tree[Fits.group_path("l1", "power_law")])
        assert {"posterior", "sample_stats", "observed_data"} <= set(idata.groups())
        table = arviz_adapter.summary(idata, round_to="none")
        observed = np.asarray(idata.observed_data["obs"].values)
    np.testing.assert_array_equal(observed, fits["l1", "power_law"].observed)
    row = fits.summary.sel(layer="l1", likelihood="power_law", parameter="alpha")
    assert table.loc["alpha", "mean"] == pytest.approx(float(row["mean"]), rel=1e-6)
    assert table.loc["alpha", "ess_bulk"] == pytest.approx(float(row["ess_bulk"]), rel=1e-3)
    assert table.loc["alpha", "r_hat"] == pytest.approx(float(row["r_hat"]), abs=1e-4)


@pytest.mark.filterwarnings(
    # synthetic log-likelihoods: this test checks what is stored, not how reliable PSIS is here
    "ignore::rmtfit.comparison.HighParetoKWarning"
)
def test_loo_results_are_stored_and_lean_fits_cannot_recompute_them(tmp_path):
    fits = hand_made_fits(["fc1", "fc2"])
    comparisons = {layer: {"full": rmtfit.compare(fits, layer=layer)} for layer in fits.layers}
    lean, full = tmp_path / "lean.nc", tmp_path / "full.nc"
    fits.to_netcdf(lean, loo=comparisons)
    fits.to_netcdf(full, pointwise=True, loo=comparisons)
    back = Fits.from_netcdf(lean)
    for layer in fits.layers:
        stored = back.loo_results(layer)["full"]
        assert stored == json.loads(json.dumps(comparisons[layer]["full"].to_dict()))
    with xr.open_datatree(lean, engine="h5netcdf") as tree:
        attrs = tree[Fits.group_path("fc2", "lik_a")].attrs
        score = comparisons["fc2"]["full"]["lik_a"]
        assert attrs["loo_elpd_loo"] == score.elpd_loo and attrs["loo_se"] == score.se
        assert attrs["loo_p_loo"] == score.p_loo and attrs["loo_weight"] == score.weight
        assert attrs["loo_pareto_k_max"] == score.pareto_k_max
    with pytest.raises(ValueError, match="no pointwise log-likelihood.*--save-pointwise"):
        rmtfit.compare(back, layer="fc1")
    again = rmtfit.compare(Fits.from_netcdf(full), layer="fc1")
    original = comparisons["fc1"]["full"]
    assert again.names == original.names
    for name in original.names:
        assert again[name].elpd_loo == pytest.approx(original[name].elpd_loo, rel=1e-6)
        assert again[name].weight == pytest.approx(original[name].weight, abs=1e-4)
    assert Fits.from_netcdf(full).loo_results("fc1") == back.loo_results("fc1")
    assert fits.loo_results("fc1") == {}  # fresh fits carry none


def test_a_failed_write_leaves_no_file(hostile, tmp_path, monkeypatch):
    target = tmp_path / "fits.nc"

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(fits_io, "_write_pair", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        hostile.to_netcdf(target)
    assert list(tmp_path.iterdir()) == []


def test_the_writer_streams_pair_by_pair(hostile, tmp_path, monkeypatch):
    """Each pair is written from its own arrays as it is reached: no Dataset of the network."""
    seen: list[tuple[str, str]] = []
    original = fits_io._write_pair

    def spy(node, fits, layer, lik, *args):
        assert len(node) == sum(1 for done in seen if done[0] == layer)  # pairs so far
        seen.append((layer, lik))
        return original(node, fits, layer, lik, *args)

    monkeypatch.setattr(fits_io, "_write_pair", spy)
    monkeypatch.setattr(
        xr, "Dataset", _only_for_the_summary(xr.Dataset, expected_dims={"layer", "likelihood"})
    )
    hostile.to_netcdf(tmp_path / "fits.nc")
    assert seen == hostile.pairs()


def _only_for_the_summary(dataset_class, expected_dims):
    def build(data_vars=None, coords=None, attrs=None):
        assert expected_dims <= set(coords or {}), "a Dataset other than the summary was built"
        return dataset_class(data_vars, coords=coords, attrs=attrs)

    return build


@pytest.mark.filterwarnings("ignore::rmtfit.inference.DiagnosticsWarning")  # 50 draws: options only
@pytest.mark.filterwarnings("ignore::rmtfit.comparison.HighParetoKWarning")
def test_analyze_and_the_cli_store_pointwise_values_only_on_request(tmp_path):
    from rmtfit.cli import main

    rng = np.random.default_rng(0)
    checkpoint = tmp_path / "net.npz"
    np.savez(checkpoint, **{"l1.weight": rng.standard_normal((60, 30))})
    short = {"likelihoods": ["power_law"], "draws": 50, "chains": 2, "quiet": True}
    rmtfit.analyze(checkpoint, out=tmp_path / "lean", plots=False, **short)
    args = ["analyze", str(checkpoint), "--draws", "50", "--chains", "2", "-q", "--no-plots"]
    assert (
        main(
            [
                *args,
                "--likelihoods",
                "power_law",
                "--save-pointwise",
                "--out",
                str(tmp_path / "full"),
            ]
        )
        == 0
    )
    lean = Fits.from_netcdf(tmp_path / "lean" / "fits.nc")
    full = Fits.from_netcdf(tmp_path / "full" / "fits.nc")
    assert not lean.pointwise and full.pointwise
    assert lean.loo_results("l1.weight")["tail"]["models"][0]["name"] == "power_law"
    assert full.loo_results("l1.weight") == lean.loo_results("l1.weight")  # same seed, same fit
