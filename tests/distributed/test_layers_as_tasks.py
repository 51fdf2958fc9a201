"""analyze(client=...): layers as Dask tasks on a LocalCluster of 2 worker processes.

The serial run and the distributed one give the same numbers (every random key comes from the
seed, the likelihood and the layer's name); a worker killed mid-run loses no layer; ``resume``
computes only the layers that are not in the staging folder yet.
"""

from __future__ import annotations

import os
import pickle
import signal
import threading
import time

import numpy as np
import pytest
from distributed_helpers import FIT, assert_same_analysis, synthetic_weights, write_checkpoint

import rmtfit
import rmtfit.pipeline._parallel as parallel
from rmtfit.cli import main

pytestmark = [
    pytest.mark.filterwarnings("ignore::rmtfit.inference.DiagnosticsWarning"),
    pytest.mark.filterwarnings("ignore::rmtfit.comparison.HighParetoKWarning"),
    pytest.mark.timeout(600),
]


@pytest.fixture(scope="module")
def spectra():
    return rmtfit.load_spectra(synthetic_weights(4))


@pytest.fixture(scope="module")
def serial(spectra):
    return rmtfit.analyze(spectra, **FIT)


def test_serial_equals_distributed(cluster_client, spectra, serial):
    distributed = rmtfit.analyze(spectra, client=cluster_client, layers_per_task=1, **FIT)
    assert_same_analysis(serial, distributed)
    assert distributed.mode == "full" and len(distributed.fits.layers) == 4


def test_groups_of_layers_equal_single_layers(cluster_client, spectra, serial):
    """Batching two layers per task changes no layer's draws."""
    grouped = rmtfit.analyze(spectra, client=cluster_client, layers_per_task=2, **FIT)
    assert_same_analysis(serial, grouped)


def test_workers_read_the_checkpoint(cluster_client, tmp_path):
    """A path: the workers compute the spectra; every layer and skipped tensor is accounted for."""
    path = write_checkpoint(tmp_path / "net.safetensors", n_layers=5)
    here = rmtfit.analyze(path, fast=True, quiet=True)
    there = rmtfit.analyze(path, fast=True, quiet=True, client=cluster_client, layers_per_task=2)
    assert [r.name for r in there.layers] == [r.name for r in here.layers]
    assert [r.status for r in there.layers] == [r.status for r in here.layers]
    for a, b in zip(here.spectra, there.spectra, strict=True):
        # the workers' BLAS runs single-threaded: the Gram matrix may differ in the last bits
        np.testing.assert_allclose(b.eigenvalues, a.eigenvalues, rtol=1e-12, atol=1e-12)
        assert here.layer(a.name).classical.alpha == pytest.approx(
            there.layer(a.name).classical.alpha, rel=1e-9
        )


def test_a_killed_worker_loses_no_layer(cluster_client, spectra, serial, tmp_path):
    """Kill the worker running a task once the first layer is in; every layer is still there."""
    staging = tmp_path / "parts"
    killed: list[int] = []

    def kill_a_busy_worker() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not list(staging.glob("*.pkl")):
            time.sleep(0.05)
        while time.monotonic() < deadline:
            busy = [w for w, tasks in cluster_client.processing().items() if tasks]
            if busy:
                pid = cluster_client.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_a_busy_worker, daemon=True)
    killer.start()
    result = rmtfit.analyze(
        spectra, client=cluster_client, layers_per_task=1, staging=staging, **FIT
    )
    killer.join(timeout=5)
    assert killed, "no worker was busy after the first layer finished: nothing was killed"
    assert_same_analysis(serial, result)
    assert len(list(staging.glob("*.pkl"))) == 4
    cluster_client.wait_for_workers(2, timeout=120)  # the nanny restarts the killed worker


def test_resume_computes_only_the_missing_layers(spectra, serial, tmp_path, monkeypatch):
    """In process (no client): a run that lost two layers' parts redoes exactly those two."""
    staging = tmp_path / "parts"
    first = rmtfit.analyze(spectra, staging=staging, layers_per_task=1, **FIT)
    assert_same_analysis(serial, first)
    files = sorted(staging.glob("*.pkl"))
    assert len(files) == 4
    gone = ["block1.weight", "block3.weight"]
    for path in files:
        if pickle.loads(path.read_bytes())[0] in gone:
            path.unlink()

    computed: list[tuple[str, ...]] = []
    original = parallel.analyze_group

    def spy(path, names, subset, options):
        computed.append(names)
        return original(path, names, subset, options)

    monkeypatch.setattr(parallel, "analyze_group", spy)
    resumed = rmtfit.analyze(spectra, staging=staging, resume=True, layers_per_task=1, **FIT)
    assert sorted(n for names in computed for n in names) == gone
    assert_same_analysis(serial, resumed)


def test_cli_scheduler_and_resume(tmp_path):
    """``rmtfit analyze --scheduler local:2`` writes the report and the parts; ``--resume`` reuses them."""
    path = write_checkpoint(tmp_path / "net.safetensors", n_layers=3)
    out = tmp_path / "out"
    args = ["analyze", str(path), "--fast", "-q", "--out", str(out)]
    assert main([*args, "--scheduler", "local:2"]) == 0
    report = (out / "report.json").read_text()
    assert all(f"block{i}.weight" in report for i in range(3))
    assert len(list((out / "rmtfit-parts").glob("*.pkl"))) == 3
    (out / "report.json").unlink()
    assert main([*args, "--resume"]) == 0  # no scheduler: in process, from the parts
    assert (out / "report.json").read_text() == report
    assert main([*args, "--scheduler", "nowhere"]) == 2
