"""rmtfit.distributed without a cluster: scheduler strings, the part store, in-process tasks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rmtfit.distributed import PartStore, TaskFailed, parse_scheduler, run_tasks


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("local:4", ("local", 4)),
        (" local:1 ", ("local", 1)),
        ("tcp://10.0.0.5:8786", ("address", "tcp://10.0.0.5:8786")),
        ("tls://scheduler.example:8786", ("address", "tls://scheduler.example:8786")),
    ],
)
def test_parse_scheduler(spec, expected):
    assert parse_scheduler(spec) == expected


@pytest.mark.parametrize(
    "spec", ["local", "local:0", "local:-2", "8786", "tcp://host", "http://h:1"]
)
def test_parse_scheduler_rejects(spec):
    with pytest.raises(ValueError, match="local:N"):
        parse_scheduler(spec)


def _square(x):
    if x < 0:
        raise ValueError(f"negative {x}")
    return x * x


def test_run_tasks_in_process_reports_each_result_and_isolates_failures():
    seen = []
    out = run_tasks(
        None, _square, {"a": (2,), "b": (-1,), "c": (3,)}, on_result=lambda k, v: seen.append(k)
    )
    assert out["a"] == 4 and out["c"] == 9
    assert isinstance(out["b"], TaskFailed) and "negative -1" in out["b"].reason
    assert seen == ["a", "b", "c"]


def test_part_store_round_trip_and_resume(tmp_path):
    folder = tmp_path / "parts"
    store = PartStore(folder, {"seed": 0}, resume=False)
    store.put("layer/1", {"x": 1})
    store.put("layer 2", [2])
    assert PartStore(folder, {"seed": 0}, resume=True).load() == {
        "layer/1": {"x": 1},
        "layer 2": [2],
    }
    assert not list(folder.glob("*.tmp*"))  # atomic writes leave no temporary file
    # without resume the earlier parts are dropped
    assert PartStore(folder, {"seed": 0}, resume=False).load() == {}


def test_part_store_refuses_other_settings(tmp_path):
    PartStore(tmp_path / "p", {"seed": 0, "draws": 200}, resume=False).put("a", 1)
    with pytest.raises(ValueError, match="draws differ"):
        PartStore(tmp_path / "p", {"seed": 0, "draws": 100}, resume=True)


def test_part_store_leaves_a_foreign_folder_alone(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a folder of rmtfit parts"):
        PartStore(foreign, {}, resume=False)
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_part_store_skips_an_unreadable_part(tmp_path):
    store = PartStore(tmp_path / "p", {}, resume=False)
    store.put("good", 1)
    store.put("bad", 2)
    store.path_of("bad").write_bytes(b"not a pickle")
    assert PartStore(tmp_path / "p", {}, resume=True).load() == {"good": 1}


_RUN_DEFAULT = """
import sys, numpy as np, rmtfit
from rmtfit.cli import main
from safetensors.numpy import save_file
rng = np.random.default_rng(0)
save_file({"w.weight": rng.standard_normal((120, 60)).astype(np.float32)}, sys.argv[1] + "/n.safetensors")
rmtfit.analyze(sys.argv[1] + "/n.safetensors", likelihoods="power_law", draws=50, chains=1, quiet=True)
main(["analyze", sys.argv[1] + "/n.safetensors", "--fast", "-q", "--out", sys.argv[1] + "/out"])
"""
_LOADED = """
print(__import__("json").dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed"))))
"""


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def test_default_analyze_never_imports_dask(tmp_path):
    """The serial path (library and command line) imports nothing of Dask itself.

    xarray imports parts of dask (``dask.array``) whenever it builds a Dataset and dask is
    installed; that is xarray's doing, measured by the control run. rmtfit's default path adds no
    Dask module to those, and never imports ``distributed`` (the cluster machinery).
    """
    found = json.loads(_python(_RUN_DEFAULT + _LOADED, str(tmp_path)).stdout.splitlines()[-1])
    control = "import sys, xarray\nxarray.Dataset({'a': ('x', [1.0])})\n" + _LOADED
    by_xarray = json.loads(_python(control).stdout.splitlines()[-1])
    assert not [m for m in found if m.split(".")[0] == "distributed"]
    assert set(found) <= set(by_xarray), sorted(set(found) - set(by_xarray))
