"""``rmtfit track`` on the zoo's training snapshots, and its page in headless Chromium.

The zoo (``models/``) holds three snapshots of one run: MiniAlexNet seed 0 untrained (step 0),
the batch-size-1024 run after 65 of 100 epochs (step 130) and at the end (step 200). The page
must render from disk with no network and show every section and layer.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from rmtfit.cli import main

ZOO = Path(__file__).resolve().parents[2] / "models"
SNAPSHOTS = ("minialexnet_init", "minialexnet_bs1024_ep065", "minialexnet_bs1024")

pytestmark = [
    pytest.mark.filterwarnings("ignore::rmtfit.inference.DiagnosticsWarning"),
    pytest.mark.filterwarnings("ignore::rmtfit.comparison.HighParetoKWarning"),
    pytest.mark.skipif(
        not (ZOO / "checkpoints" / "minialexnet_init.safetensors").is_file(),
        reason="the zoo's checkpoints are not in this checkout",
    ),
]


def _steps() -> list[int]:
    manifest = json.loads((ZOO / "manifest.json").read_text())
    steps = {c["name"]: c["steps"] for c in manifest["checkpoints"]}
    return [steps[name] for name in SNAPSHOTS]


@pytest.fixture(scope="module")
def zoo_track(tmp_path_factory):
    out = tmp_path_factory.mktemp("zoo-track")
    paths = [str(ZOO / "checkpoints" / f"{name}.safetensors") for name in SNAPSHOTS]
    code = main(
        ["track", *paths, "--steps", ",".join(map(str, _steps())), "--out", str(out),
         "--layers", "fc[12]", "--likelihoods", "power_law,mp_spikes", "--draws", "200",
         "--chains", "2", "-q"]
    )  # fmt: skip
    return code, out


def test_zoo_trajectory(zoo_track):
    code, out = zoo_track
    assert code == 0
    data = json.loads((out / "trajectory.json").read_text())
    assert [c["step"] for c in data["checkpoints"]] == [0, 130, 200]
    assert list(data["layers"]) == ["fc1.weight", "fc2.weight", "network"]
    net = data["layers"]["network"]
    assert all(a is not None for a in net["alpha"]) and len(net["p_alpha_decreased"]) == 2
    # untrained and early snapshots are random-like; training moves layers out of the bulk
    first, last = net["phases"][0], net["phases"][-1]
    assert first["random_like"] > last["random_like"]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed (scripts/setup-dev.sh)")
def test_zoo_trajectory_page_in_chromium(zoo_track, tmp_path):
    """The page renders (a screenshot that is not blank, the figure decoded) and its DOM holds
    every section and layer."""
    from matplotlib.image import imread

    _, out = zoo_track
    page = (out / "trajectory.html").as_uri()
    shot = tmp_path / "shot.png"
    common = [_chromium(), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    subprocess.run(
        [*common, f"--screenshot={shot}", "--window-size=1200,1600", page],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    pixels = imread(shot)
    assert pixels.shape[0] > 100 and float(np.std(pixels[..., :3])) > 0.02  # not a blank page
    dom = subprocess.run(
        [*common, "--dump-dom", page], capture_output=True, text=True, timeout=120, check=False
    ).stdout
    for needle in ('id="figure"', 'id="alpha"', 'id="checkpoints"', "fc1.weight", "fc2.weight"):
        assert needle in dom, needle
    assert "minialexnet_bs1024_ep065" in dom
    assert 'src="data:image/png;base64,' in dom  # the figure is inlined, not fetched
