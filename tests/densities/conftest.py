"""The densities are float64 code: switch JAX to double precision once for these tests.

Importing rmtfit no longer does it (``rmtfit.common.enable_x64`` is called by the entry points),
so a test that evaluates a density directly needs it switched on first.
"""

from __future__ import annotations

import pytest

from rmtfit.common import enable_x64


@pytest.fixture(scope="session", autouse=True)
def _float64():
    enable_x64()
