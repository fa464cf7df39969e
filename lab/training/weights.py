"""A stored run's weights as NumPy arrays, without torch (the internals page reads them)."""

from __future__ import annotations

import io

import numpy as np


def load_weights(blob: bytes) -> dict[str, np.ndarray]:
    """The .npz bytes a run's weights are stored as (engine.weights_bytes) -> name -> array
    (Wxh (V, H), Whh (H, H), bh (H,), Why (H, V), by (V,))."""
    with np.load(io.BytesIO(blob)) as z:
        return {n: z[n] for n in z.files}
