"""The LSTM family's torch side: the network, its loss, batched prediction and deterministic fitting.

Kept apart from `lstm.py` so that reading the family's description (the Dagster definitions do, for every family)
does not import torch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from dart_assets.ml.dataset import Windows

QUANTILES = (0.1, 0.5, 0.9)
PREDICT_BATCH = 2048


class QuantileLSTM(nn.Module):
    """LSTM over the window plus a skip connection from the target hour's own features to the heads.

    The skip lets the net learn the same-hour driver effect directly, so it trains in a few epochs on CPU;
    P10 and P90 are the median minus/plus a softplus gap, so they can never cross it.
    """

    def __init__(self, width: int, hidden_size: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(width, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size + width, 3)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        sequence, _ = self.lstm(windows)
        raw = self.head(torch.cat([sequence[:, -1], windows[:, -1]], dim=1))
        median = raw[:, 1]
        gaps = nn.functional.softplus(raw[:, [0, 2]])
        return torch.stack([median - gaps[:, 0], median, median + gaps[:, 1]], dim=1)


def pinball(predicted: torch.Tensor, actual: torch.Tensor) -> torch.Tensor:
    """Mean pinball loss over the P10/P50/P90 columns."""
    alphas = torch.tensor(QUANTILES, dtype=predicted.dtype, device=predicted.device)
    diff = actual[:, None] - predicted
    return torch.maximum(alphas * diff, (alphas - 1) * diff).mean()


def predict_scaled(network: QuantileLSTM, windows: Windows) -> np.ndarray:
    """Scaled (n, 3) predictions in fixed-size batches on the network's device."""
    device = next(network.parameters()).device
    network.eval()
    outputs = []
    with torch.no_grad():
        for start in range(0, len(windows), PREDICT_BATCH):
            positions = np.arange(start, min(start + PREDICT_BATCH, len(windows)))
            outputs.append(network(torch.from_numpy(windows.batch(positions)).to(device)).cpu().numpy())
    return np.concatenate(outputs).astype("float64") if outputs else np.empty((0, 3))


@contextlib.contextmanager
def deterministic(seed: int, n_threads: int) -> Iterator[None]:
    """Seed torch and pin its threads/algorithms for this fit only, restoring the process-wide settings after."""
    previous_threads = torch.get_num_threads()
    previous_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.manual_seed(seed)
    torch.set_num_threads(n_threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.set_num_threads(previous_threads)
        torch.use_deterministic_algorithms(previous_deterministic)
