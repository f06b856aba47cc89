"""LSTM family: a small PyTorch LSTM over per-point look-back windows with P10/P50/P90 heads.

The three heads are trained with pinball loss (robust to DART spikes: the median head is an MAE fit) and are
non-crossing by construction. Only fitting and predicting live here; the rest is shared in training.py.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from dart_assets.ml.dataset import TARGET, FamilyFit, FeatureTransform, Split, Windows, build_windows, quantile_frame

DEFAULT_PARAMS = {
    "lookback": 24,
    "hidden_size": 32,
    "learning_rate": 3e-3,
    "weight_decay": 1e-5,
    "batch_size": 256,
    "max_epochs": 40,
    "patience": 5,
}
QUANTILES = (0.1, 0.5, 0.9)
STATE_FILE = "lstm_state_dict.pt"
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


@dataclass
class LstmModel:
    transform: FeatureTransform
    network: QuantileLSTM
    lookback: int

    @property
    def native(self) -> QuantileLSTM:
        return self.network

    def native_input(self, frame: pd.DataFrame) -> np.ndarray:
        windows = build_windows(frame, self.transform, self.lookback)
        return windows.batch(np.arange(len(windows)))

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Quantiles for rows with a full look-back window inside `frame`; NaN for the others."""
        if not frame.index.is_unique:
            raise ValueError("the LSTM needs a unique frame index to align window predictions")
        windows = build_windows(frame, self.transform, self.lookback)
        scaled = _predict_scaled(self.network, windows)
        values = np.full((len(frame), 3), np.nan)
        values[frame.index.get_indexer(windows.labels)] = self.transform.unscale_target(scaled)
        return quantile_frame(frame.index, values[:, 0], values[:, 1], values[:, 2])

    def save(self, directory: Path) -> None:
        torch.save({k: v.cpu() for k, v in self.network.state_dict().items()}, directory / STATE_FILE)

    @classmethod
    def load(cls, directory: Path, transform: FeatureTransform, params: dict) -> LstmModel:
        network = QuantileLSTM(transform.lstm_width(), params["hidden_size"])
        network.load_state_dict(torch.load(directory / STATE_FILE, weights_only=True, map_location="cpu"))
        return cls(transform, network.eval(), params["lookback"])


def fit(
    split: Split, transform: FeatureTransform, params: dict, seed: int, n_threads: int, progress: Callable[[str], None]
) -> FamilyFit:
    train = build_windows(split.train, transform, params["lookback"])
    val = build_windows(split.val, transform, params["lookback"])
    if not len(train) or not len(val):
        raise ValueError(f"train/val splits are shorter than the {params['lookback']}-hour look-back")
    with _deterministic(seed, n_threads):
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        network = QuantileLSTM(transform.lstm_width(), params["hidden_size"]).to(device)
        optimiser = torch.optim.Adam(
            network.parameters(), lr=params["learning_rate"], weight_decay=params["weight_decay"]
        )
        train_y = _scaled_targets(split.train, train, transform)
        val_y = _scaled_targets(split.val, val, transform)
        shuffler = torch.Generator().manual_seed(seed)
        curve: dict[str, list[float]] = {"train": [], "val": []}
        best_loss, best_epoch, best_state = float("inf"), 0, None
        for epoch in range(1, params["max_epochs"] + 1):
            network.train()
            order = torch.randperm(len(train), generator=shuffler).numpy()
            losses = []
            for start in range(0, len(order), params["batch_size"]):
                batch = order[start : start + params["batch_size"]]
                inputs = torch.from_numpy(train.batch(batch)).to(device)
                loss = pinball(network(inputs), torch.from_numpy(train_y[batch]).to(device))
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                losses.append(loss.item() * len(batch))
            val_loss = float(pinball(torch.from_numpy(_predict_scaled(network, val)), torch.from_numpy(val_y)))
            curve["train"].append(sum(losses) / len(order))
            curve["val"].append(val_loss)
            progress(f"lstm epoch {epoch}: train loss={curve['train'][-1]:.4f}, val loss={val_loss:.4f}")
            if val_loss < best_loss:
                best_loss, best_epoch, best_state = val_loss, epoch, copy.deepcopy(network.state_dict())
            elif epoch - best_epoch >= params["patience"]:
                break
        network.load_state_dict(best_state)
    network = network.cpu().eval()
    return FamilyFit(LstmModel(transform, network, params["lookback"]), best_epoch, curve, None)


def pinball(predicted: torch.Tensor, actual: torch.Tensor) -> torch.Tensor:
    """Mean pinball loss over the P10/P50/P90 columns."""
    alphas = torch.tensor(QUANTILES, dtype=predicted.dtype, device=predicted.device)
    diff = actual[:, None] - predicted
    return torch.maximum(alphas * diff, (alphas - 1) * diff).mean()


def _scaled_targets(rows: pd.DataFrame, windows: Windows, transform: FeatureTransform) -> np.ndarray:
    return transform.scale_target(rows.loc[windows.labels, TARGET].to_numpy(dtype="float64")).astype("float32")


def _predict_scaled(network: QuantileLSTM, windows: Windows) -> np.ndarray:
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
def _deterministic(seed: int, n_threads: int) -> Iterator[None]:
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
