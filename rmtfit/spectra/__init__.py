"""Weights -> eigenvalue spectra."""

from rmtfit.spectra._types import Skipped, Spectra, Spectrum

__all__ = ["Skipped", "Spectra", "Spectrum"]
