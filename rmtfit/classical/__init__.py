"""Classical point estimators (see :mod:`rmtfit.classical._result` for :class:`ClassicalFit`)."""

from rmtfit.classical._result import ClassicalFit

__all__ = ["ClassicalFit"]
