"""The LSTM trains on a CUDA GPU when the machine has one (an Azure ML GPU cluster, where its `dart/compute=gpu` tag
sends it), and its saved weights load on a CPU. Skipped where no GPU exists, as on the reference machines."""

from __future__ import annotations

import pytest
import torch

from dart_assets.ml import lstm_network
from dart_assets.ml.artifacts import load_bundle
from dart_assets.ml.training import train_model
from dart_assets_tests.ml.conftest import QUICK_PARAMS

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


def test_the_lstm_trains_on_the_gpu_and_loads_on_the_cpu(small_frame, feature_columns, tmp_path, monkeypatch):
    devices = []
    forward = lstm_network.QuantileLSTM.forward

    def recording(self, inputs):
        devices.append(inputs.device.type)
        return forward(self, inputs)

    monkeypatch.setattr(lstm_network.QuantileLSTM, "forward", recording)
    result = train_model("lstm", small_frame, feature_columns, tmp_path, QUICK_PARAMS["lstm"])
    assert "cuda" in devices
    model = load_bundle(result.bundle_dir)
    assert next(model.model.native.parameters()).device.type == "cpu"
