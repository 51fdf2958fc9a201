"""The subject networks: small torch architectures for 8x8 digit images and Gaussian inputs.

Each builder returns a fresh ``torch.nn.Module`` whose parameters are named after the
layer they belong to (``conv1.weight``, ``fc2.weight``, ...), so a checkpoint's tensor
names read the same in every tool. Initialisation is torch's default; the caller seeds
the global torch generator first (see ``train.py``).

The architectures follow the networks of Martin & Mahoney (ICML 2019), shrunk for
inputs of 1 x 8 x 8 pixels:

- ``minialexnet``: two 3x3 convolutions (32 and 64 channels, one 2x2 max-pool) then
  fully connected layers 1024 -> 384 -> 192 -> 10 (the paper's MiniAlexNet has
  FC layers of 384 and 192 units after two convolutions);
- ``lenet5``: convolutions of 6 and 16 channels then 256 -> 120 -> 84 -> 10;
- ``mlp``: 64 -> 512 -> 256 -> 10;
- ``student``: 128 -> 512 -> 128 -> 10, the student of the teacher-student task
  (``teacher_student.py``): Gaussian inputs of dimension 128, two 512 x 128 weight matrices
  (128 eigenvalues each, aspect ratio Q = 4), 10 classes.

This file is imported by ``train.py`` as a sibling script module; ``models/`` is not a
package.
"""

from __future__ import annotations

import itertools
from typing import Any

ARCHITECTURES = ("minialexnet", "lenet5", "mlp", "student")

DESCRIPTIONS = {
    "minialexnet": (
        "conv3x3(1->32)+ReLU+maxpool2, conv3x3(32->64)+ReLU, "
        "fc 1024->384+ReLU, 384->192+ReLU, 192->10"
    ),
    "lenet5": (
        "conv5x5(1->6,pad2)+ReLU+maxpool2, conv3x3(6->16,pad1)+ReLU, "
        "fc 256->120+ReLU, 120->84+ReLU, 84->10"
    ),
    "mlp": "fc 64->512+ReLU, 512->256+ReLU, 256->10",
    "student": "fc 128->512+ReLU, 512->128+ReLU, 128->10",
}


def build(architecture: str) -> Any:
    """Return a freshly initialised network.

    Parameters
    ----------
    architecture : str
        One of ``ARCHITECTURES``.

    Returns
    -------
    torch.nn.Module
        The network, in training mode, on the CPU, in float32.

    Raises
    ------
    ValueError
        If ``architecture`` is not one of ``ARCHITECTURES``.
    """
    import torch
    from torch import nn

    class MiniAlexNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, kernel_size=3, padding=1)
            self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
            self.fc1 = nn.Linear(64 * 4 * 4, 384)
            self.fc2 = nn.Linear(384, 192)
            self.fc3 = nn.Linear(192, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x.view(-1, 1, 8, 8)
            x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
            x = torch.relu(self.conv2(x)).flatten(1)
            x = torch.relu(self.fc1(x))
            x = torch.relu(self.fc2(x))
            return self.fc3(x)

    class LeNet5(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)
            self.conv2 = nn.Conv2d(6, 16, kernel_size=3, padding=1)
            self.fc1 = nn.Linear(16 * 4 * 4, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x.view(-1, 1, 8, 8)
            x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
            x = torch.relu(self.conv2(x)).flatten(1)
            x = torch.relu(self.fc1(x))
            x = torch.relu(self.fc2(x))
            return self.fc3(x)

    class MLP(nn.Module):
        """Fully connected layers ``fc1``, ``fc2``, ... of the given widths, ReLU between."""

        def __init__(self, widths: tuple[int, ...]) -> None:
            super().__init__()
            self.widths = widths
            for k, (fan_in, fan_out) in enumerate(itertools.pairwise(widths), start=1):
                setattr(self, f"fc{k}", nn.Linear(fan_in, fan_out))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x.view(-1, self.widths[0])
            layers = [getattr(self, f"fc{k}") for k in range(1, len(self.widths))]
            for layer in layers[:-1]:
                x = torch.relu(layer(x))
            return layers[-1](x)

    builders = {
        "minialexnet": MiniAlexNet,
        "lenet5": LeNet5,
        "mlp": lambda: MLP((64, 512, 256, 10)),
        "student": lambda: MLP((128, 512, 128, 10)),
    }
    if architecture not in builders:
        raise ValueError(
            f"Unknown architecture {architecture!r}; expected one of {', '.join(ARCHITECTURES)}."
        )
    return builders[architecture]()
