"""The LSTM family's serving side: `QuantileLSTM`'s forward pass in NumPy, so a forecast needs no torch.

Importing torch costs the morning forecast about 2 s of its 6 s budget (issue 15). The weights are the torch
state dict's arrays under the same names, saved as a NumPy `.npz` and read back with allow_pickle=False (plain
arrays: loading it runs no code). The arithmetic is torch's in float32: one LSTM layer with the gate order
input, forget, cell, output and both bias vectors, the last hidden state concatenated with the window's last row
into the linear head, P10/P90 the median minus/plus a softplus gap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from dart_assets.ml.dataset import Windows

PREDICT_BATCH = 2048
STATE_KEYS = (
    "lstm.weight_ih_l0",
    "lstm.weight_hh_l0",
    "lstm.bias_ih_l0",
    "lstm.bias_hh_l0",
    "head.weight",
    "head.bias",
)
"""QuantileLSTM's state dict, in its order: (4H, width), (4H, H), (4H,), (4H,), (3, H + width), (3,)."""


class NumpyQuantileLSTM:
    """QuantileLSTM's weights as float32 arrays, and its forward pass over (n, lookback, width) windows."""

    def __init__(self, state: Mapping[str, np.ndarray], source: str = "LSTM weights") -> None:
        """`source` names where the arrays come from in the error about them."""
        if sorted(state) != sorted(STATE_KEYS):
            raise ValueError(f"{source}: expected the arrays {list(STATE_KEYS)}, got {sorted(state)}")
        self.state = {key: np.asarray(state[key], dtype=np.float32) for key in STATE_KEYS}
        four_hidden, self.width = self.state["lstm.weight_ih_l0"].shape
        self.hidden_size = four_hidden // 4
        expected = {
            "lstm.weight_ih_l0": (4 * self.hidden_size, self.width),
            "lstm.weight_hh_l0": (4 * self.hidden_size, self.hidden_size),
            "lstm.bias_ih_l0": (4 * self.hidden_size,),
            "lstm.bias_hh_l0": (4 * self.hidden_size,),
            "head.weight": (3, self.hidden_size + self.width),
            "head.bias": (3,),
        }
        wrong = {key: self.state[key].shape for key, shape in expected.items() if self.state[key].shape != shape}
        if wrong:
            raise ValueError(
                f"{source}: array shapes {wrong} do not fit a {self.width}-wide LSTM of {self.hidden_size} units"
            )
        # sigmoid(x) = (1 + tanh(x / 2)) / 2, so with the input, forget and output gates' rows halved (exact in
        # floating point) one tanh per step serves all four gates; logaddexp's sigmoid took 20x as long.
        half = np.where(np.arange(4 * self.hidden_size) // self.hidden_size == 2, 1.0, 0.5).astype(np.float32)
        self._input_weights = np.ascontiguousarray((self.state["lstm.weight_ih_l0"] * half[:, None]).T)
        self._recurrent_weights = np.ascontiguousarray((self.state["lstm.weight_hh_l0"] * half[:, None]).T)
        self._bias = (self.state["lstm.bias_ih_l0"] + self.state["lstm.bias_hh_l0"]) * half

    @classmethod
    def load(cls, path: Path) -> NumpyQuantileLSTM:
        """The weights `save` wrote; a file of other arrays, or of pickled objects, is refused naming it."""
        with np.load(path, allow_pickle=False) as arrays:
            try:
                state = {key: arrays[key] for key in arrays.files}
            except ValueError as error:  # an object array, which only unpickling could read
                raise ValueError(f"{path}: {error}") from error
        return cls(state, source=str(path))

    def save(self, path: Path) -> None:
        np.savez(path, allow_pickle=False, **self.state)

    def forward(self, windows: np.ndarray) -> np.ndarray:
        """(n, 3) float32 P10/P50/P90 on the scaled target, as `QuantileLSTM.forward`."""
        x = np.asarray(windows, dtype=np.float32)
        n, steps, width = x.shape
        units = self.hidden_size
        # The input side of every gate at every step in one product, time-major so each step reads one block; the
        # loop only carries the recurrent side.
        time_major = np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(steps * n, width)
        inputs = (time_major @ self._input_weights + self._bias).reshape(steps, n, 4 * units)
        hidden = np.zeros((n, units), dtype=np.float32)
        cell = np.zeros_like(hidden)
        for step in range(steps):
            tanh = np.tanh(inputs[step] + hidden @ self._recurrent_weights)
            sigmoid = tanh * 0.5 + 0.5  # of the input, forget and output gates (their rows are halved)
            gate_in, forget, gate_out = sigmoid[:, :units], sigmoid[:, units : 2 * units], sigmoid[:, 3 * units :]
            cell = forget * cell + gate_in * tanh[:, 2 * units : 3 * units]
            hidden = gate_out * np.tanh(cell)
        s = self.state
        raw = np.concatenate([hidden, x[:, -1]], axis=1) @ s["head.weight"].T + s["head.bias"]
        median = raw[:, 1]
        gaps = np.logaddexp(0.0, raw[:, [0, 2]])  # softplus, without overflow
        return np.stack([median - gaps[:, 0], median, median + gaps[:, 1]], axis=1)

    def predict_scaled(self, windows: Windows) -> np.ndarray:
        return predict_batched(self.forward, windows)


def predict_batched(forward: Callable[[np.ndarray], np.ndarray], windows: Windows) -> np.ndarray:
    """Scaled (n, 3) float64 predictions of `forward` over `windows`, PREDICT_BATCH windows at a time (a batch holds
    lookback copies of its rows)."""
    outputs = [forward(batch) for batch in windows.batches(PREDICT_BATCH)]
    return np.concatenate(outputs).astype("float64") if outputs else np.empty((0, 3))
