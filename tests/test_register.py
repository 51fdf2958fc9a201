"""``rmtfit.register``: a second likelihood of a taken name is refused (naming it and the fix)
unless ``overwrite=True``, which replaces the registered one."""

from __future__ import annotations

import dataclasses

import pytest

import rmtfit
import rmtfit.likelihoods.api as api


@pytest.fixture
def registry(monkeypatch):
    """A copy of the registry for one test: what the test registers disappears afterwards."""
    monkeypatch.setattr(api, "_REGISTRY", dict(api._REGISTRY))
    return api._REGISTRY


def _copy(name: str, doc: str):
    """An unregistered copy of power_law under another name and docstring."""
    return dataclasses.replace(rmtfit.get_likelihood("power_law"), name=name, doc=doc)


def test_a_taken_name_is_refused_with_the_fix(registry):
    first = rmtfit.register(_copy("user_tail_for_test", "first"))
    assert rmtfit.get_likelihood("user_tail_for_test") is first
    assert rmtfit.register(first) is first  # registering the same object again is harmless
    second = _copy("user_tail_for_test", "second")
    with pytest.raises(ValueError) as info:
        rmtfit.register(second)
    message = str(info.value)
    assert "'user_tail_for_test' is already registered" in message
    assert "pick another name or pass overwrite=True" in message
    assert rmtfit.get_likelihood("user_tail_for_test") is first  # unchanged by the refusal


def test_overwrite_replaces_the_registered_likelihood(registry):
    rmtfit.register(_copy("user_tail_for_test", "first"))
    second = rmtfit.register(_copy("user_tail_for_test", "second"), overwrite=True)
    assert rmtfit.get_likelihood("user_tail_for_test") is second
    assert rmtfit.get_likelihood("user_tail_for_test").doc == "second"
    assert rmtfit.list_likelihoods().count("user_tail_for_test") == 1


def test_a_built_in_name_is_protected_too(registry):
    with pytest.raises(ValueError, match="'power_law' is already registered"):
        rmtfit.register(_copy("power_law", "a user's power law"))
    assert rmtfit.get_likelihood("power_law").doc != "a user's power law"


def test_the_registry_copy_does_not_leak():
    assert "user_tail_for_test" not in rmtfit.list_likelihoods()
