"""LSTM family: a small PyTorch LSTM over per-point look-back windows with P10/P50/P90 heads.

The three heads are trained with pinball loss (robust to DART spikes: the median head is an MAE fit) and are
non-crossing by construction. The network and the other torch pieces are in `lstm_network.py`; a fitted model
predicts with the same network's NumPy forward pass (`lstm_numpy.py`), so serving a bundle never imports torch.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from dart_assets.ml.dataset import ANCHOR_WEIGHT, TARGET, FeatureTransform, anchor, build_windows, quantile_frame
from dart_assets.ml.family import FamilyFit, ModelFamily, Progress
from dart_assets.ml.lstm_numpy import NumpyQuantileLSTM

if TYPE_CHECKING:
    from dart_assets.common.split import Split
    from dart_assets.ml.lstm_network import QuantileLSTM

DEFAULT_PARAMS = {
    # The target the network learns is DART minus this share of the anchor (`dataset.anchor`), as the boosters,
    # centred and scaled robustly (median, IQR / 1.349): a std inflated by price spikes squeezes ordinary hours
    # into a sliver of the scale and biased the median head (issue 12's research).
    "anchor_weight": ANCHOR_WEIGHT,
    "robust_scaling": True,
    "lookback": 24,
    "hidden_size": 32,
    "learning_rate": 3e-3,
    "weight_decay": 1e-5,
    "batch_size": 256,
    "max_epochs": 40,
    "patience": 5,
}
STATE_FILE = "lstm_state_dict.pt"
WEIGHTS_FILE = "lstm_weights.npz"
SCALING_FILE = "lstm_target_scaling.json"
IQR_TO_STD = 1.349  # the IQR of a normal distribution in standard deviations


class LstmModel(ModelFamily):
    name = "lstm"
    label = "PyTorch LSTM"
    training_cost_rank = 1
    library = "torch"
    flavor = "pytorch"
    flavor_options: ClassVar[Mapping[str, Any]] = {"serialization_format": "pt2"}  # torch.export: no pickles
    compute = "gpu"
    default_params = DEFAULT_PARAMS
    tunable: ClassVar[Mapping[str, str]] = {
        "learning_rate": "Adam step size.",
        "lookback": "Hours of feature history per sample.",
        "hidden_size": "LSTM hidden units.",
        "max_epochs": "Upper bound; early stopping on validation ends sooner.",
        "patience": "Epochs without a validation gain before training stops.",
        "batch_size": "Windows per gradient step.",
        "anchor_weight": "Share of the same hour's 28-day median DART the network predicts the remainder of.",
    }

    def __init__(
        self,
        transform: FeatureTransform,
        network: NumpyQuantileLSTM,
        lookback: int,
        scaling: TargetScaling,
        anchor_weight: float = 0.0,
    ) -> None:
        self.transform = transform
        self.network = network
        self.lookback = lookback
        self.scaling = scaling
        self.anchor_weight = anchor_weight

    @classmethod
    def history_hours(cls, params: Mapping[str, Any]) -> int:
        """The look-back window: a prediction needs that many consecutive hours of the point."""
        return int(params["lookback"])

    @property
    def native(self) -> QuantileLSTM:
        """The network as a torch module (what MLflow's pytorch flavor logs), built from the weights on demand."""
        from dart_assets.ml.lstm_network import from_numpy

        return from_numpy(self.network)

    def native_input(self, frame: pd.DataFrame) -> np.ndarray:
        windows = build_windows(frame, self.transform, self.lookback)
        return windows.batch(np.arange(len(windows)))

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Quantiles for rows with a full look-back window inside `frame`; NaN for the others."""
        if not frame.index.is_unique:
            raise ValueError("the LSTM needs a unique frame index to align window predictions")
        windows = build_windows(frame, self.transform, self.lookback)
        scaled = self.network.predict_scaled(windows)
        values = np.full((len(frame), 3), np.nan)
        values[frame.index.get_indexer(windows.labels)] = self.scaling.unscale(scaled)
        values += anchor(frame, self.anchor_weight)[:, None]
        return quantile_frame(frame.index, values[:, 0], values[:, 1], values[:, 2])

    def save(self, directory: Path) -> None:
        """The weights twice: the torch state dict (training's own artefact) and the NumPy arrays serving reads."""
        import torch

        torch.save(self.native.state_dict(), directory / STATE_FILE)
        self.network.save(directory / WEIGHTS_FILE)
        (directory / SCALING_FILE).write_text(json.dumps(asdict(self.scaling)))

    @classmethod
    def load(cls, directory: Path, transform: FeatureTransform, params: Mapping[str, Any]) -> LstmModel:
        weights = directory / WEIGHTS_FILE
        if weights.exists():
            network = NumpyQuantileLSTM.load(weights)
        else:  # bundles saved before the NumPy weights: read the state dict with torch
            from dart_assets.ml.lstm_network import read_state

            weights = directory / STATE_FILE
            network = read_state(weights)
        if (network.width, network.hidden_size) != (transform.lstm_width(), params["hidden_size"]):
            raise ValueError(
                f"{weights}: an LSTM of {network.width} inputs and {network.hidden_size} units, but the bundle's "
                f"metadata describes {transform.lstm_width()} inputs and {params['hidden_size']} units"
            )
        scaling_file = directory / SCALING_FILE
        # Bundles saved before the anchor and the robust scaling: the training target's mean and std, no anchor.
        scaling = (
            TargetScaling(**json.loads(scaling_file.read_text()))
            if scaling_file.exists()
            else TargetScaling(transform.target_mean, transform.target_std)
        )
        return cls(transform, network, params["lookback"], scaling, params.get("anchor_weight", 0.0))

    def native_output(self, input_example: Any) -> Any:
        """The module's float32 output; the NumPy forward computes it (tests hold the two equal to 1e-5)."""
        return self.network.forward(input_example)

    @classmethod
    def fit(
        cls,
        split: Split,
        transform: FeatureTransform,
        params: Mapping[str, Any],
        seed: int,
        n_threads: int,
        progress: Progress,
    ) -> FamilyFit:
        import torch

        from dart_assets.ml.lstm_network import QuantileLSTM, deterministic, pinball, predict_scaled, to_numpy

        train = build_windows(split.train, transform, params["lookback"])
        val = build_windows(split.val, transform, params["lookback"])
        if not len(train) or not len(val):
            raise ValueError(f"train/val splits are shorter than the {params['lookback']}-hour look-back")
        with deterministic(seed, n_threads):
            device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
            network = QuantileLSTM(transform.lstm_width(), params["hidden_size"]).to(device)
            optimiser = torch.optim.Adam(
                network.parameters(), lr=params["learning_rate"], weight_decay=params["weight_decay"]
            )
            weight = params["anchor_weight"]
            scaling = TargetScaling.fit(_residuals(split.train, weight), robust=params["robust_scaling"])
            train_y = scaling.scale(_residuals(split.train.loc[train.labels], weight)).astype("float32")
            val_y = scaling.scale(_residuals(split.val.loc[val.labels], weight)).astype("float32")
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
                val_loss = float(pinball(torch.from_numpy(predict_scaled(network, val)), torch.from_numpy(val_y)))
                curve["train"].append(sum(losses) / len(order))
                curve["val"].append(val_loss)
                progress(f"lstm epoch {epoch}: train loss={curve['train'][-1]:.4f}, val loss={val_loss:.4f}")
                if val_loss < best_loss:
                    best_loss, best_epoch, best_state = val_loss, epoch, copy.deepcopy(network.state_dict())
                elif epoch - best_epoch >= params["patience"]:
                    break
            if best_state is None:
                raise ValueError(f"lstm: the validation loss was never finite ({curve['val']})")
            network.load_state_dict(best_state)
        model = cls(transform, to_numpy(network), params["lookback"], scaling, weight)
        return FamilyFit(model, best_epoch, curve, None)


@dataclass(frozen=True)
class TargetScaling:
    """How the network's target (DART minus the anchor share) is centred and scaled; saved with the model."""

    center: float
    spread: float

    @classmethod
    def fit(cls, residuals: np.ndarray, robust: bool) -> TargetScaling:
        if robust:
            q25, median, q75 = np.quantile(residuals, [0.25, 0.5, 0.75])
            center, spread = float(median), float(q75 - q25) / IQR_TO_STD
        else:
            center, spread = float(np.mean(residuals)), float(np.std(residuals))
        return cls(center, spread if np.isfinite(spread) and spread > 0 else 1.0)

    def scale(self, values: np.ndarray) -> np.ndarray:
        return (values - self.center) / self.spread

    def unscale(self, values: np.ndarray) -> np.ndarray:
        return values * self.spread + self.center


def _residuals(rows: pd.DataFrame, anchor_weight: float) -> np.ndarray:
    return rows[TARGET].to_numpy(dtype="float64") - anchor(rows, anchor_weight)
