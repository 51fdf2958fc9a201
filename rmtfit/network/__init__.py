"""Network-level HT-SR metrics as posterior distributions, and comparing two networks.

:func:`network_metrics` turns the per-layer posteriors (each layer's tail exponent, read through
its likelihood's declared ``tail_exponent`` role) into posterior draws of WeightWatcher's network
metrics; :func:`compare_networks` gives ``P(A < B)`` per metric and matched layer. See
:mod:`rmtfit.network._network` for the definitions.
"""

from rmtfit.network._network import (
    METRICS,
    NETWORK,
    POINT_MASS_METRICS,
    NetworkComparison,
    NetworkMetrics,
    compare_networks,
    match_layers,
    network_metrics,
    probability_below,
)

__all__ = [
    "METRICS",
    "NETWORK",
    "POINT_MASS_METRICS",
    "NetworkComparison",
    "NetworkMetrics",
    "compare_networks",
    "match_layers",
    "network_metrics",
    "probability_below",
]
