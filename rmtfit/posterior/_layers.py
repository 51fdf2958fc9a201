"""Every fit of one layer, and the draws of a variable or of a declared role."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rmtfit.likelihoods import Roles, get_likelihood

__all__ = [
    "LOG_LIKELIHOOD_VARIABLE",
    "USABLE_STATUSES",
    "LayerPosteriors",
    "layer_posteriors",
    "likelihood_family",
    "likelihood_roles",
    "posterior_draws",
    "role_draws",
    "usable_likelihoods",
    "fits_layers",
    "preferred_likelihoods",
]

LOG_LIKELIHOOD_VARIABLE = "obs"
"""Variable of the ``log_likelihood`` (and ``observed_data``) group written by :func:`rmtfit.fit`."""

USABLE_STATUSES = ("ok", "flagged")
"""``Fits.status`` values whose draws the later stages read (flagged fits are kept, and say so)."""

_NOT_DRAWS = ("log_likelihood", "observed_data", "sample_stats", "constant_data")


@dataclass(frozen=True)
class LayerPosteriors:
    """Every usable fit of one layer, as plain values.

    ``idatas`` maps likelihood names to ArviZ ``InferenceData`` (groups ``posterior``,
    ``log_likelihood`` with variable ``obs``, ``observed_data``); ``classical`` is the layer's
    :class:`rmtfit.ClassicalFit` or ``None``.
    """

    spectrum: Any
    idatas: Mapping[str, Any]
    classical: Any = None

    @property
    def name(self) -> str:
        return str(self.spectrum.name)


# --- what a likelihood is -----------------------------------------------------------------------


def _registered(name: str) -> Any:
    try:
        return get_likelihood(name)
    except KeyError:
        return None


def _stored_attrs(idata: Any) -> Mapping[str, Any]:
    """The attributes the sampler stored with a fit (top level, else the posterior group's)."""
    attrs = dict(getattr(idata, "attrs", None) or {})
    posterior = getattr(idata, "posterior", None)
    if posterior is not None:
        attrs = {**dict(posterior.attrs), **attrs}
    return attrs


def likelihood_family(name: str, idata: Any = None) -> str:
    """The family (``full`` or ``tail``) of a likelihood: its registered declaration, else the
    ``family`` attribute stored with the fit."""
    registered = _registered(name)
    if registered is not None:
        return str(registered.family)
    attrs = _stored_attrs(idata)
    if attrs.get("family"):
        return str(attrs["family"])
    raise ValueError(
        f"cannot tell the family of likelihood {name!r}: it is not registered and its "
        "InferenceData has no 'family' attribute; register it with rmtfit.likelihood(...) "
        "(or rmtfit.register) before reading its fits, or set idata.attrs['family']."
    )


def likelihood_roles(name: str, idata: Any = None) -> Roles:
    """The declared :class:`rmtfit.Roles` of a likelihood: its registered declaration, else the
    roles stored with the fit (``role_*`` attributes), else no roles (kind ``other``)."""
    registered = _registered(name)
    if registered is not None:
        return registered.roles
    stored = Roles.from_attrs(_stored_attrs(idata))
    return stored if stored is not None else Roles()


# --- draws --------------------------------------------------------------------------------------


def posterior_draws(idata: Any, variable: str) -> np.ndarray | None:
    """Draws of ``variable`` as ``(chain * draw, ...)``, or ``None`` when the fit has none.

    The ``posterior`` group is searched first, then any other group of draws (not
    ``log_likelihood``, ``observed_data``, ``sample_stats`` or ``constant_data``).
    """
    groups = ["posterior"] + [g for g in idata.groups() if g != "posterior" and g not in _NOT_DRAWS]
    for group_name in groups:
        group = getattr(idata, group_name, None)
        if group is not None and variable in group.data_vars:
            values = np.asarray(group[variable].values, dtype=np.float64)
            return values.reshape(values.shape[0] * values.shape[1], *values.shape[2:])
    return None


def role_draws(name: str, idata: Any, role: str) -> np.ndarray | None:
    """Draws of the variable that likelihood ``name`` declares for ``role`` (a field of
    :class:`rmtfit.Roles` such as ``"tail_exponent"``), as ``(chain * draw, ...)``.

    ``None`` when the likelihood declares no variable for the role, or when the fit lacks it
    (a hand-made InferenceData may hold only some of the declared variables; a fit made by
    :func:`rmtfit.fit` has all of them, which :func:`rmtfit.check_likelihood` checks).
    """
    variable = likelihood_roles(name, idata).variable(role)
    return None if variable is None else posterior_draws(idata, variable)


def preferred_likelihoods(idatas: Mapping[str, Any], role: str) -> list[str]:
    """The likelihoods of ``idatas`` that declare ``role``, in the order their draws are used.

    The one rule for every single-valued output (the report's posterior columns, a layer's alpha
    in the network metrics): full-spectrum likelihoods before tail ones (a full-spectrum model
    gives the role a posterior that accounts for the bulk and for xmin), each family in the
    order of ``idatas`` (the order the likelihoods were asked for).
    """
    declared = [n for n, d in idatas.items() if likelihood_roles(n, d).variable(role) is not None]
    families = {n: likelihood_family(n, idatas[n]) for n in declared}
    return [n for n in declared if families[n] == "full"] + [
        n for n in declared if families[n] != "full"
    ]


# --- resolving the input ------------------------------------------------------------------------


def layer_posteriors(
    source: Any, *, spectra: Any = None, classical: Any = None
) -> list[LayerPosteriors]:
    """Every layer of ``source`` as :class:`LayerPosteriors`.

    ``source`` is a sequence of :class:`LayerPosteriors`, an :class:`rmtfit.Fits` (pass the
    ``spectra`` it was fitted to, and optionally the ``classical`` fits by layer name), or an
    analysis result with ``fits`` and ``spectra`` attributes. Layers without any usable fit are
    left out.
    """
    if isinstance(source, LayerPosteriors):
        return [source]
    if isinstance(source, Sequence) and all(isinstance(x, LayerPosteriors) for x in source):
        return list(source)
    fits = getattr(source, "fits", None) if not hasattr(source, "idata") else source
    spectra = spectra if spectra is not None else getattr(source, "spectra", None)
    if classical is None:
        classical = getattr(source, "classical", None) or {}
    if fits is None or not hasattr(fits, "idata") or spectra is None:
        raise TypeError(
            f"cannot read layers from a {type(source).__name__}: pass a list of "
            "rmtfit.posterior.LayerPosteriors, an rmtfit.Fits with spectra=..., or an "
            "rmtfit.Analysis."
        )
    fitted = set(fits_layers(fits))
    out = []
    for spectrum in spectra:
        if spectrum.name not in fitted:
            continue
        names = usable_likelihoods(fits, spectrum.name)
        if not names:
            continue
        idatas = {n: fits.idata(spectrum.name, n) for n in names}
        out.append(LayerPosteriors(spectrum, idatas, _get(classical, spectrum.name)))
    return out


def _get(mapping: Any, key: str) -> Any:
    try:
        return mapping[key]
    except (KeyError, TypeError, IndexError):
        return None


def usable_likelihoods(fits: Any, layer: str) -> list[str]:
    """Likelihoods with draws for ``layer`` in an :class:`rmtfit.Fits` (status ok or flagged)."""
    names = getattr(fits, "likelihoods", None)
    if names is None:
        raise TypeError(
            "the Fits object does not say which likelihoods it holds (no .likelihoods)."
        )
    names = [str(getattr(n, "name", n)) for n in names]
    has = getattr(fits, "has", None)
    status = getattr(fits, "status", None)
    out = []
    for name in names:
        present = has(layer, name) if callable(has) else (layer, name) in fits
        if present and (not callable(status) or status(layer, name) in USABLE_STATUSES):
            out.append(name)
    return out


def fits_layers(fits: Any) -> list[str]:
    """The layer names of an :class:`rmtfit.Fits` (or of anything listing them)."""
    for attribute in ("layers", "names", "layer_names"):
        value = getattr(fits, attribute, None)
        if value is not None:
            return [str(v) for v in (value() if callable(value) else value)]
    raise TypeError("the Fits object does not list its layers (no .layers / .names).")
