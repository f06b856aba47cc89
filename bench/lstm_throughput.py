"""LSTM throughput in windows (sequences) per second: training with torch on the CPU (one thread, all cores) and on a
CUDA GPU when torch sees one, and inference with torch on each of them and with the NumPy forward pass that serves
forecasts without torch (`dart_assets.ml.lstm_numpy`).

The built-in synthetic market data through `features.hourly_features` (three hubs, `--days` days), the family's
default hyperparameters (look-back 24, 32 hidden units, batches of 256). Training is `LstmModel.fit` itself, the
product's loop (its validation pass each epoch included): its first epoch is the warm-up, the next `--epochs` are
timed from its progress messages, early stopping off. Inference is the scaled forward pass over every window of the
data in the serving batches (`predict_scaled`), best of `--repeats`. Each configuration runs in its own process with
OMP/OpenBLAS/MKL threads set to its thread count (the CPU ones with CUDA hidden), so none inherits another's
thread pools; the NumPy one loads the weights the one-thread torch run saved, through `LstmModel.load` as serving
does, and reports whether torch was imported. JSON in .dart/bench/lstm_throughput.json.

    python bench/lstm_throughput.py [--days 150] [--epochs 3] [--repeats 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_json

START = dt.date(2025, 1, 1)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=150)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--worker", nargs=4, metavar=("DEVICE", "THREADS", "FEATURES", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        device, threads, features_path, work = args.worker
        print(json.dumps(worker(device, int(threads), Path(features_path), Path(work), args.epochs, args.repeats)))
        return

    import torch

    at_start = machine()
    cores = os.cpu_count() or 1
    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    print(f"machine: {at_start}; torch {torch.__version__}; CUDA: {cuda or 'no CUDA device'}")
    with tempfile.TemporaryDirectory(prefix="dart_bench_lstm_") as work:
        features_path = Path(work) / "hourly_features.parquet"
        started = time.perf_counter()
        rows = build_features(args.days, features_path)
        seconds = time.perf_counter() - started
        print(f"{args.days} days x 3 hubs of built-in data: {rows} hourly_features rows ({seconds:.0f} s, not timed)")
        runs = [("torch", 1), ("torch", cores), ("numpy", 1), ("numpy", cores)] + ([("cuda", 1)] if cuda else [])
        results = [run_worker(device, threads, features_path, Path(work), args) for device, threads in runs]
    print()
    print(f"{'path':<22}{'threads':>8}{'train windows/s':>17}{'predict windows/s':>19}")
    for r in results:
        train = f"{r['train_windows_per_s']:,.0f}" if "train_windows_per_s" in r else "-"
        print(f"{r['path']:<22}{r['threads']:>8}{train:>17}{r['predict_windows_per_s']:>19,.0f}")
    if not cuda:
        print(f"{'cuda':<22}{'':>8}{'no CUDA device':>36}")
    first = results[0]
    print(
        f"\n{first['train_windows']} training windows x {args.epochs} epochs after one warm-up epoch; "
        f"{first['predict_windows']} windows predicted, best of {args.repeats}"
    )
    numpy_run = next(r for r in results if r["path"].startswith("numpy"))
    print(f"NumPy serving: LstmModel.load + predict imported torch: {numpy_run['torch_imported']}")
    out = write_json(
        "lstm_throughput.json",
        {
            "machine": at_start,
            "torch": torch.__version__,
            "cuda_device": cuda or "no CUDA device",
            "days": args.days,
            "hourly_features_rows": rows,
            "epochs_timed": args.epochs,
            "repeats": args.repeats,
            "runs": results,
        },
    )
    print(f"written {out}")


def build_features(days: int, path: Path) -> int:
    """The hourly_features table of the built-in generator's market tables, written to `path`."""
    from dart_assets import features
    from dart_assets.market import synthetic
    from dart_assets.settings import DEFAULT_POINTS

    end = START + dt.timedelta(days=days - 1)
    table = features.hourly_features(synthetic.generate(START, end, DEFAULT_POINTS), list(DEFAULT_POINTS))[0]
    table.to_parquet(path)
    return len(table)


def run_worker(device: str, threads: int, features_path: Path, work: Path, args: argparse.Namespace) -> dict:
    """One configuration in its own process; its figures from the JSON line it prints."""
    env = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, str(threads))}
    if device != "cuda":
        env["CUDA_VISIBLE_DEVICES"] = ""
    command = [sys.executable, __file__, "--epochs", str(args.epochs), "--repeats", str(args.repeats)]
    command += ["--worker", device, str(threads), str(features_path), str(work)]
    print(f"  {device}, {threads} thread(s) ...", flush=True)
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"failed: {' '.join(command)}")
    return json.loads(done.stdout.splitlines()[-1])


def worker(device: str, threads: int, features_path: Path, work: Path, epochs: int, repeats: int) -> dict:
    import pandas as pd

    from dart_assets.common.split import chronological_split
    from dart_assets.features import feature_columns
    from dart_assets.ml.dataset import FeatureTransform, build_windows
    from dart_assets.ml.lstm import DEFAULT_PARAMS, LstmModel

    frame = pd.read_parquet(features_path)
    frame = frame[frame["dart"].notna()]
    model_dir = work / "model"
    if device == "numpy":
        transform = FeatureTransform.from_dict(json.loads((model_dir / "transform.json").read_text()))
        model = LstmModel.load(model_dir, transform, DEFAULT_PARAMS)
        windows = build_windows(frame, transform, model.lookback)
        seconds = best_of(repeats, lambda: model.network.predict_scaled(windows))
        return {
            "path": "numpy (serving)",
            "threads": threads,
            "predict_windows": len(windows),
            "predict_windows_per_s": round(len(windows) / seconds),
            "torch_imported": "torch" in sys.modules,
        }

    import torch

    from dart_assets.ml.lstm_network import from_numpy, predict_scaled

    split = chronological_split(frame, "timestamp_utc")
    transform = FeatureTransform.fit(split.train, feature_columns(frame))
    params = {**DEFAULT_PARAMS, "max_epochs": epochs + 1, "patience": epochs + 2}
    stamps: list[float] = []  # when each epoch ended
    fitted = LstmModel.fit(split, transform, params, 42, threads, lambda message: stamps.append(time.perf_counter()))
    model = cast(LstmModel, fitted.model)
    train_windows = len(build_windows(split.train, transform, params["lookback"]))
    if device == "torch" and threads == 1:  # the weights the NumPy runs serve
        model_dir.mkdir()
        model.save(model_dir)
        (model_dir / "transform.json").write_text(json.dumps(transform.to_dict()))
    torch.set_num_threads(threads)
    network = from_numpy(model.network).to(device if device == "cuda" else "cpu")
    windows = build_windows(frame, transform, params["lookback"])
    seconds = best_of(repeats, lambda: predict_scaled(network, windows))
    return {
        "path": f"torch {device}" if device == "cuda" else "torch cpu",
        "threads": threads,
        "train_windows": train_windows,
        "train_windows_per_s": round(epochs * train_windows / (stamps[-1] - stamps[0])),
        "predict_windows": len(windows),
        "predict_windows_per_s": round(len(windows) / seconds),
    }


def best_of(repeats: int, run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


if __name__ == "__main__":
    main()
