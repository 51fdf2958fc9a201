"""The many-small-layer CNN the benchmarks time: torchvision's untrained ``mobilenet_v2``.

53 weight layers (many 1x1 and depthwise convolutions), seeded and built offline, written to a
``model.safetensors`` file.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path


def write_mobilenet(folder: Path) -> Path:
    """Untrained mobilenet_v2 (seed 0) as ``folder/model.safetensors``."""
    # torchvision 0.28's C++ operators are missing here, and `import torchvision` fails while
    # registering their meta kernels; the models themselves are pure Python and do not need
    # them, so the registration module is stubbed out before the import.
    sys.modules.setdefault(
        "torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations")
    )
    import torch
    import torchvision
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v2()
    state = {
        k: v.detach().contiguous() for k, v in model.state_dict().items() if v.is_floating_point()
    }
    path = folder / "model.safetensors"
    save_file(state, str(path))
    return path
