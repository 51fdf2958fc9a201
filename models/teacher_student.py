"""The teacher-student task: a fixed random teacher network labels Gaussian inputs.

Everything is a pure function of ``TEACHER_SEED``: one ``numpy.random.default_rng`` draws,
in this order, the teacher's two weight matrices and then the inputs of the training and
test sets, so the data set is the same on every machine that runs the same numpy.

- inputs: x ~ N(0, I_128), float32, ``N_TRAIN`` training and ``N_TEST`` test samples;
- teacher: 128 -> 64 tanh -> 10 with independent N(0, 1/fan_in) weights and no biases;
  the label is the argmax of its 10 outputs, computed in float64 from the float32 inputs.

The tanh teacher is odd, so the classes are balanced up to sampling noise (a ReLU teacher's
non-negative hidden units favour some classes). The task is learnable but not trivially:
the teacher has 64 hidden units of 128 inputs, the student (``networks.py``'s ``student``)
512 and 128.

This file is imported by ``train.py`` as a sibling script module; ``models/`` is not a
package.
"""

from __future__ import annotations

import hashlib
from typing import Any

TEACHER_SEED = 0
INPUT_DIM = 128
TEACHER_HIDDEN = 64
N_CLASSES = 10
N_TRAIN = 20_000
N_TEST = 5_000

DATA_NAME = "teacher-student (Gaussian inputs, random tanh teacher)"
SPLIT_TEXT = (
    f"numpy.random.default_rng({TEACHER_SEED}): teacher weights, then {N_TRAIN} training "
    f"and {N_TEST} test inputs"
)
PREPROCESSING = (
    f"x ~ N(0, I_{INPUT_DIM}) as float32; label = argmax of the teacher "
    f"{INPUT_DIM}->{TEACHER_HIDDEN} tanh->{N_CLASSES} (weights N(0, 1/fan_in), no biases)"
)


def make_arrays(n_train: int = N_TRAIN, n_test: int = N_TEST) -> dict[str, Any]:
    """The task's inputs and labels as numpy arrays (float32 inputs, int64 labels)."""
    import numpy as np

    rng = np.random.default_rng(TEACHER_SEED)
    w1 = rng.standard_normal((INPUT_DIM, TEACHER_HIDDEN)) / np.sqrt(INPUT_DIM)
    w2 = rng.standard_normal((TEACHER_HIDDEN, N_CLASSES)) / np.sqrt(TEACHER_HIDDEN)
    x = rng.standard_normal((n_train + n_test, INPUT_DIM)).astype(np.float32)
    y = np.argmax(np.tanh(x.astype(np.float64) @ w1) @ w2, axis=1).astype(np.int64)
    return {
        "x_train": x[:n_train],
        "y_train": y[:n_train],
        "x_test": x[n_train:],
        "y_test": y[n_train:],
    }


def load_data() -> dict[str, Any]:
    """The task as torch tensors, in the layout of ``train.load_data``.

    Returns
    -------
    dict
        ``x_train``, ``y_train``, ``x_test``, ``y_test`` (torch tensors) and ``sha256``
        (hex digest of the four arrays' bytes, to detect a changed data set).
    """
    import numpy as np
    import torch

    arrays = make_arrays()
    digest = hashlib.sha256()
    for key in ("x_train", "y_train", "x_test", "y_test"):
        digest.update(np.ascontiguousarray(arrays[key]).tobytes())
    tensors = {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in arrays.items()}
    return {**tensors, "sha256": digest.hexdigest()}
