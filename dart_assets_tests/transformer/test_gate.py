from dart_assets.transformer.gate import evaluate_gate


def test_gate_passes_only_when_both_rmse_within_threshold():
    passed = evaluate_gate({"val_rmse": 1.2, "test_rmse": 1.3}, 3.0)
    assert passed.passed and passed.numbers == {"val_rmse": 1.2, "test_rmse": 1.3, "threshold_kw": 3.0}
    failed = evaluate_gate({"val_rmse": 1.2, "test_rmse": 3.5}, 3.0)
    assert not failed.passed
    assert "test_rmse 3.500 kW" in failed.description and "val_rmse" not in failed.description
    assert not evaluate_gate({"val_rmse": float("nan"), "test_rmse": 1.0}, 3.0).passed


def test_gate_threshold_is_inclusive():
    assert evaluate_gate({"val_rmse": 3.0, "test_rmse": 3.0}, 3.0).passed
