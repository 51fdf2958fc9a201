"""Roles: every built-in declares them, they validate and round-trip, and the checker tests them.

Also checks, at the source level, that the built-in likelihoods use only the public extension
API (so each file works when a user copies it into their own module), and runs such a copy.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
from numpyro.distributions import constraints

import rmtfit
from rmtfit.likelihoods import (
    BUILTIN_LIKELIHOODS,
    ROLE_FIELDS,
    ROLE_KINDS,
    Likelihood,
    Parameter,
    Roles,
    api,
    check_likelihood,
    get_likelihood,
    likelihood,
)
from rmtfit.likelihoods._check import synthetic_layer

PACKAGE = Path(rmtfit.likelihoods.__file__).resolve().parent
BUILTIN_MODULES = ("_alternatives", "_frechet", "_mp_spikes", "_spliced", "_tail_power_laws")
PUBLIC_API = {"rmtfit.likelihoods.api", "rmtfit.likelihoods.helpers", "rmtfit.densities"}
THIRD_PARTY = {"numpy", "jax", "numpyro", "scipy"}

_SPLICED = {"kind": "tail", "tail_exponent": "alpha", "xmin": "xmin", "tail_fraction": "phi"}
EXPECTED = {
    "mp_spikes": {
        "kind": "mp",
        "bulk_scale": "sigma2",
        "bulk_edge": "lambda_plus",
        "spike_count": "K",
        "spike_probability": "spike_prob",
    },
    "spliced_pl": _SPLICED,
    "spliced_tpl": _SPLICED,
    "spliced_mp": {**_SPLICED, "bulk_scale": "sigma2"},
    "power_law": {"kind": "tail", "tail_exponent": "alpha"},
    "truncated_power_law": {"kind": "tail", "tail_exponent": "alpha"},
    "cutoff_power_law": {"kind": "tail", "tail_exponent": "alpha"},
    "frechet_topk": {"kind": "tail", "tail_exponent": "alpha"},
    "lognormal": {"kind": "other"},
    "exponential": {"kind": "other"},
    "stretched_exponential": {"kind": "other"},
}


# ------------------------------------------------------------------ the built-ins' roles


def test_every_builtin_declares_the_roles_of_the_table():
    assert set(EXPECTED) == set(BUILTIN_LIKELIHOODS)
    for name, roles in EXPECTED.items():
        assert get_likelihood(name).roles == Roles(**roles), name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_role_of_a_builtin_names_a_parameter_or_a_derived_quantity(name):
    lik = get_likelihood(name)
    spectrum, classical = synthetic_layer(0)
    x = lik.observations(spectrum, classical)
    context = lik.context(x, spectrum, classical)
    variables = set(lik.parameter_names)
    if lik.derived is not None:
        key, mask = jax.random.PRNGKey(0), np.ones(x.size, dtype=bool)
        variables |= set(lik.derived(key, x, mask, lik.init(context), context))
    for role in ROLE_FIELDS:
        assert lik.roles.variable(role) in variables | {None}, (name, role)


def test_the_builtins_keep_no_extra_metadata():
    for name in BUILTIN_LIKELIHOODS:
        assert dict(get_likelihood(name).extra) == {}, name


def test_the_typed_fields_replace_the_old_extra_keys():
    frechet = get_likelihood("frechet_topk")
    assert frechet.joint and callable(frechet.marginal_logpdf)
    power_law = get_likelihood("power_law")
    assert callable(power_law.exact_posterior) and callable(power_law.exact_posterior_cdf)
    for name in ("mp_spikes", "spliced_pl", "spliced_tpl", "spliced_mp"):
        assert callable(get_likelihood(name).quadrature_points), name
    assert not any(get_likelihood(n).joint for n in BUILTIN_LIKELIHOODS if n != "frechet_topk")


# ------------------------------------------------------------------- Roles itself


def test_roles_default_to_other_with_no_variables():
    roles = Roles()
    assert roles.kind == "other"
    assert all(roles.variable(r) is None for r in ROLE_FIELDS)
    assert roles.to_attrs() == {"role_kind": "other"}


def test_an_unknown_kind_is_refused_naming_the_allowed_ones():
    with pytest.raises(ValueError, match="kind='bulk'") as info:
        Roles(kind="bulk")
    assert all(kind in str(info.value) for kind in ROLE_KINDS)


def test_a_tail_kind_needs_a_tail_exponent():
    with pytest.raises(ValueError, match="tail_exponent"):
        Roles(kind="tail")
    with pytest.raises(ValueError, match="tail_exponent"):
        Roles(kind="tail", xmin="xmin")


def test_an_mp_kind_needs_a_bulk_scale_or_edge():
    with pytest.raises(ValueError, match="bulk_scale.*bulk_edge"):
        Roles(kind="mp", spike_count="K")
    assert Roles(kind="mp", bulk_edge="lambda_plus").bulk_scale is None
    assert Roles(kind="mp", bulk_scale="sigma2").bulk_edge is None


@pytest.mark.parametrize("bad", ["", "   ", 3, ("alpha",)])
def test_a_role_value_must_be_a_non_empty_string(bad):
    with pytest.raises(ValueError, match="non-empty string"):
        Roles(kind="other", tail_exponent=bad)


def test_roles_are_frozen():
    with pytest.raises(AttributeError):
        Roles().kind = "mp"  # type: ignore[misc]


def test_variable_reads_a_role_and_refuses_an_unknown_one():
    roles = Roles(**EXPECTED["mp_spikes"])
    assert roles.variable("spike_count") == "K"
    assert roles.variable("tail_exponent") is None
    with pytest.raises(ValueError, match="tail_exponent") as info:
        roles.variable("alpha")
    assert "'alpha'" in str(info.value)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_to_attrs_and_from_attrs_round_trip(name):
    roles = get_likelihood(name).roles
    attrs = roles.to_attrs()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in attrs.items())
    assert attrs["role_kind"] == roles.kind
    assert len(attrs) == 1 + sum(roles.variable(r) is not None for r in ROLE_FIELDS)
    assert Roles.from_attrs(attrs) == roles
    # a fit's whole attribute dict, as read back from a file, works too
    stored = {**{k: np.str_(v) for k, v in attrs.items()}, "sampler": "nuts", "draws": 1000}
    assert Roles.from_attrs(stored) == roles


def test_from_attrs_without_roles_is_none():
    assert Roles.from_attrs({}) is None
    assert Roles.from_attrs({"sampler": "nuts", "role_tail_exponent": "alpha"}) is None
    assert Roles.from_attrs({"role_kind": b"tail", "role_tail_exponent": b"alpha"}) == Roles(
        kind="tail", tail_exponent="alpha"
    )


def test_roles_is_public():
    assert rmtfit.Roles is Roles
    assert api.Roles is Roles


# ----------------------------------------------------- Likelihood's typed fields


def _power_law_logpdf(x, params, context):
    a, xmin = params["alpha"], context["xmin"]
    return jnp.log(a - 1.0) - jnp.log(xmin) - a * jnp.log(x / xmin)


def _power_law_cdf(x, params, context):
    return 1.0 - (x / context["xmin"]) ** (1.0 - params["alpha"])


def _power_law_sample(rng_key, params, context, n):
    u = 1.0 - jax.random.uniform(rng_key, (n,), dtype=jnp.float64)
    return context["xmin"] * u ** (-1.0 / (params["alpha"] - 1.0))


def _alpha():
    return Parameter(
        "alpha", constraints.interval(1.5, 8.0), lambda c: dist.Uniform(1.5, 8.0), "U(1.5, 8)"
    )


def _declare(**kwargs) -> Likelihood:
    return likelihood(
        "roles_test_tail",
        family="tail",
        parameters=[_alpha()],
        init=lambda context: {"alpha": 3.0},
        sample=_power_law_sample,
        cdf=_power_law_cdf,
        register_as=False,
        **kwargs,
    )(_power_law_logpdf)


def test_a_role_naming_no_variable_fails_the_roles_check():
    lik = _declare(roles=Roles(kind="tail", tail_exponent="beta"))
    report = check_likelihood(lik, raise_on_failure=False)
    failures = [r.name for r in report.failures]
    assert failures == ["roles"], str(report)
    detail = report["roles"].detail
    assert "tail_exponent" in detail and "'beta'" in detail and "['alpha']" in detail


def test_a_role_naming_a_parameter_passes_the_roles_check():
    lik = _declare(roles=Roles(kind="tail", tail_exponent="alpha"))
    report = check_likelihood(lik, raise_on_failure=False)
    assert report.passed, str(report)


def test_roles_must_be_a_roles_value():
    with pytest.raises(TypeError, match="Roles"):
        _declare(roles={"kind": "tail", "tail_exponent": "alpha"})


def test_joint_needs_a_marginal_logpdf():
    with pytest.raises(ValueError, match="marginal_logpdf"):
        _declare(joint=True)
    assert _declare(joint=True, marginal_logpdf=_power_law_logpdf).joint


def test_hooks_must_be_callable():
    with pytest.raises(TypeError, match="exact_posterior"):
        _declare(exact_posterior="gamma")


# ------------------------------------------------- the built-ins use the public API only


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            for alias in node.names:
                yield node.lineno, module, alias.name


def _private_parts(module: str) -> list[str]:
    return [part for part in module.split(".") if part.startswith("_") and part != "__future__"]


@pytest.mark.parametrize("module", [*BUILTIN_MODULES, "_check", "api", "helpers"])
def test_likelihood_modules_import_only_public_names(module):
    path = PACKAGE / f"{module}.py"
    builtin = module in BUILTIN_MODULES
    problems = []
    for line, source, name in _imports(path):
        where = f"{path.name}:{line}: {source}" + (f" import {name}" if name else "")
        if source.startswith("."):
            problems.append(f"{where} (a relative import)")
        elif _private_parts(source):
            problems.append(f"{where} (a private module)")
        elif name is not None and name.startswith("_"):
            problems.append(f"{where} (a private name)")
        elif builtin and source.split(".")[0] == "rmtfit" and source not in PUBLIC_API:
            problems.append(f"{where} (a built-in imports only {sorted(PUBLIC_API)})")
        elif builtin and source.split(".")[0] not in THIRD_PARTY | {"rmtfit"}:
            if source.split(".")[0] not in {"__future__", "collections", "typing"}:
                problems.append(f"{where} (not numpy/jax/numpyro/scipy)")
    assert problems == []


def _copy(module: str, tmp_path: Path):
    """The built-in ``module`` copied to a user's file, each registered name prefixed ``copied_``."""
    source = (PACKAGE / f"{module}.py").read_text(encoding="utf-8")
    pattern = re.compile(r'(@likelihood\(\s*")(\w+)(")')
    names = pattern.findall(source)
    assert names, f"{module} registers no likelihood"
    path = tmp_path / f"user_{module.lstrip('_')}.py"
    path.write_text(pattern.sub(r"\1copied_\2\3", source), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return [n for _, n, _ in names]


@pytest.mark.parametrize("module", BUILTIN_MODULES)
def test_a_builtin_copied_into_a_user_module_works(module, tmp_path):
    names = _copy(module, tmp_path)
    try:
        spectrum, classical = synthetic_layer(0)
        for name in names:
            builtin, copied = get_likelihood(name), get_likelihood(f"copied_{name}")
            assert copied is not builtin and copied.roles == builtin.roles
            x = builtin.observations(spectrum, classical)
            context = builtin.context(x, spectrum, classical)
            assert copied.context(x, spectrum, classical) == context
            params = builtin.init(context)
            np.testing.assert_allclose(
                np.asarray(copied.logpdf(x, params, context)),
                np.asarray(builtin.logpdf(x, params, context)),
                rtol=1e-14,
            )
    finally:
        for name in names:
            api._REGISTRY.pop(f"copied_{name}", None)
