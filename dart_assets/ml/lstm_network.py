"""The LSTM family's torch side: the network, its loss, batched prediction and deterministic fitting, and the
conversion to and from the NumPy network that serves it (`lstm_numpy.py`).

Kept apart from `lstm.py` so that reading the family's description (the Dagster definitions do, for every family)
and forecasting do not import torch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dart_assets.ml.dataset import Windows
from dart_assets.ml.lstm_numpy import NumpyQuantileLSTM, predict_batched

QUANTILES = (0.1, 0.5, 0.9)


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
    with torch.no_grad():
        return predict_batched(lambda batch: network(torch.from_numpy(batch).to(device)).cpu().numpy(), windows)


def to_numpy(network: QuantileLSTM) -> NumpyQuantileLSTM:
    return NumpyQuantileLSTM({key: value.detach().cpu().numpy() for key, value in network.state_dict().items()})


def from_numpy(weights: NumpyQuantileLSTM) -> QuantileLSTM:
    """The torch module of these weights, on the CPU, in evaluation mode."""
    network = QuantileLSTM(weights.width, weights.hidden_size)
    network.load_state_dict({key: torch.from_numpy(value) for key, value in weights.state.items()})
    return network.eval()


def read_state(path: Path) -> NumpyQuantileLSTM:
    """Weights from a torch state dict file, loaded weights_only (a pickle in it is refused, not run)."""
    state = torch.load(path, weights_only=True, map_location="cpu")
    return NumpyQuantileLSTM({key: value.numpy() for key, value in state.items()}, source=str(path))


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
