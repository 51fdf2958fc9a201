"""The 2-process LocalCluster of the distributed tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def cluster_client():
    """A LocalCluster of 2 worker processes with one thread each (closed after the module)."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
