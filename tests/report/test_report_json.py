"""report.json: schema rmtfit.report/1 in both modes, strict JSON, nulls for what is missing."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import replace

import jsonschema
import numpy as np
import pytest

from rmtfit.pipeline import Estimate
from rmtfit.report import SCHEMA, build_report, load_schema, report_json, validate_report
from rmtfit.report._json import PHASES, POSTERIOR_QUANTITIES

ISSUE_LAYER_FIELDS = (
    "name",
    "kind",
    "N",
    "M",
    "Q",
    "num_evals",
    "status",
    "reason",
    "metrics",
    "classical",
    "posterior",
    "models",
    "phase",
)
ISSUE_TOP_FIELDS = ("schema", "rmtfit_version", "source", "seed", "ci_prob", "layers", "summary")


def test_schema_file_is_a_valid_json_schema():
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schema"]["const"] == SCHEMA


def test_report_validates_in_both_modes(analysis):
    report = json.loads(report_json(build_report(analysis)))
    validate_report(report)
    assert report["schema"] == "rmtfit.report/1"
    assert report["mode"] == analysis.mode
    for key in ISSUE_TOP_FIELDS:
        assert key in report
    for layer in report["layers"]:
        for key in ISSUE_LAYER_FIELDS:
            assert key in layer, key


def test_fast_mode_has_null_posterior_models_and_phase(fast_analysis):
    report = build_report(fast_analysis)
    assert report["likelihoods"] == []
    for layer in report["layers"]:
        assert layer["posterior"] is None
        assert layer["models"] is None
        assert layer["phase"] is None
    assert report["summary"]["network"] is None
    assert report["summary"]["phase_counts"] is None


def test_full_mode_carries_the_posterior_models_and_phases(full_analysis):
    report = json.loads(report_json(build_report(full_analysis)))
    results = {r.name: r for r in full_analysis.layers}
    ok = [layer for layer in report["layers"] if layer["status"] == "ok"]
    assert len(ok) == 4
    for layer in ok:
        result = results[layer["name"]]
        assert set(layer["posterior"]) == set(POSTERIOR_QUANTITIES)
        for quantity in POSTERIOR_QUANTITIES:  # every number carried exactly through the JSON
            est = result.posterior[quantity]
            assert layer["posterior"][quantity] == (None if est is None else est.to_dict())
        assert layer["posterior"]["xmin"] is None  # not estimated by any fitted likelihood here
        assert layer["phase"]["probabilities"] == result.phase["probabilities"]
        assert layer["phase"]["map"] == max(
            PHASES, key=lambda p: layer["phase"]["probabilities"][p]
        )
        assert layer["models"]["truncated_power_law"]["max_pareto_k"] is None  # NaN -> null
    counts = report["summary"]["phase_counts"]
    assert sum(counts.values()) == len(ok)
    assert sum(report["summary"]["phase_expected"].values()) == pytest.approx(len(ok))


def test_a_posterior_interval_is_the_equal_tailed_quantiles_of_its_draws(full_analysis):
    """alpha of the first layer from draws made here: report.json's interval is their
    equal-tailed ``ci_prob`` quantiles, its mean and sd theirs."""
    draws = 1.0 + np.random.default_rng(7).gamma(20.0, 0.1, size=1001)  # skewed: ends differ
    first = full_analysis.layers[0]
    alpha = Estimate.from_draws(draws, full_analysis.ci_prob, "power_law")
    layers = (replace(first, posterior={**first.posterior, "alpha": alpha}),)
    analysis = replace(full_analysis, layers=layers + full_analysis.layers[1:])
    written = json.loads(report_json(build_report(analysis)))["layers"][0]["posterior"]["alpha"]
    tail = (1.0 - full_analysis.ci_prob) / 2.0
    assert (written["ci_low"], written["ci_high"]) == tuple(np.quantile(draws, [tail, 1 - tail]))
    assert written["mean"] == np.mean(draws) and written["sd"] == np.std(draws, ddof=1)
    assert written["likelihood"] == "power_law"


def test_failed_and_skipped_tensors_are_listed_with_reasons(analysis):
    report = build_report(analysis)
    by_name = {layer["name"]: layer for layer in report["layers"]}
    assert by_name["broken.weight"]["status"] == "failed"
    assert "NaN" in by_name["broken.weight"]["reason"]
    assert by_name["encoder.0.bias"]["status"] == "skipped"
    assert by_name["encoder.0.bias"]["shape"] == [40]
    summary = report["summary"]
    assert (summary["num_ok"], summary["num_failed"], summary["num_skipped"]) == (4, 1, 1)
    assert summary["num_layers"] == 5


def test_json_is_strict_and_keeps_unicode_names(fast_analysis):
    text = report_json(build_report(fast_analysis))

    def reject(token: str) -> None:
        raise AssertionError(f"non-standard JSON constant {token} in report.json")

    json.loads(text, parse_constant=reject)
    assert "décodeur.β.weight" in text


def test_classical_summary_matches_the_layers(fast_analysis):
    report = build_report(fast_analysis)
    alphas = [r.classical.alpha for r in fast_analysis.layers if r.ok]
    assert report["summary"]["classical"]["alpha_mean"] == pytest.approx(sum(alphas) / len(alphas))
    weighted = [
        r.classical.alpha * math.log10(r.metrics["lambda_max"])
        for r in fast_analysis.layers
        if r.ok
    ]
    assert report["summary"]["classical"]["alpha_weighted"] == pytest.approx(
        sum(weighted) / len(weighted)
    )


def test_each_layer_carries_every_classical_estimate(fast_analysis):
    report = build_report(fast_analysis)
    for entry, layer in zip(report["layers"], fast_analysis.layers, strict=True):
        if not layer.ok:
            continue
        fit = layer.classical
        for name in ("sigma2_gd", "alpha_unbiased", "p_value"):  # NaN is written as null
            value = getattr(fit, name)
            expected = None if math.isnan(value) else pytest.approx(value)
            assert entry["classical"][name] == expected, name
        assert entry["classical"]["num_dropped"] == fit.num_dropped
    classical = [e["classical"] for e in report["layers"] if e["classical"]]
    assert any(c["sigma2_gd"] is not None for c in classical)


@pytest.mark.parametrize(
    "breakage",
    [
        lambda r: r.update(schema="rmtfit.report/0"),
        lambda r: r["layers"][0].update(status="maybe"),
        lambda r: r["layers"][0].pop("metrics"),
        lambda r: r["layers"][-2].update(reason=""),  # a failed layer must say why
        lambda r: r["layers"][0]["classical"].update(alpha="3.1"),
    ],
)
def test_schema_rejects_broken_reports(fast_analysis, breakage):
    report = copy.deepcopy(build_report(fast_analysis))
    validate_report(report)
    breakage(report)
    with pytest.raises(jsonschema.ValidationError):
        validate_report(report)


def test_schema_rejects_a_phase_outside_the_six(full_analysis):
    report = copy.deepcopy(build_report(full_analysis))
    report["layers"][0]["phase"]["map"] = "overtrained"
    with pytest.raises(jsonschema.ValidationError):
        validate_report(report)
