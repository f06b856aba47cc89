"""Atomic writes: a file or a folder is the old one or the new one, never half of either, locally and on abfss://
(the fake storage account: the real adlfs URI parsing on a local folder)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fsspec.implementations.local import LocalFileOpener
from upath import UPath

from dart_assets.common import files
from dart_assets.common.files import publish_folder, write_atomically
from dart_assets_tests.fakes.azure_fixtures import STORAGE, fake_account  # noqa: F401


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def folder(root: Path, tag: str) -> Path:
    root.mkdir(parents=True)
    (root / "model_a.txt").write_text(f"a {tag}")
    (root / "sub").mkdir()
    (root / "sub" / "model_b.json").write_text(f'{{"b": "{tag}"}}')
    (root / "metadata.json").write_text(f'{{"tag": "{tag}"}}')
    return root


def fail_on_second_copy(monkeypatch) -> None:
    real, calls = files._copy_file, []

    def copy(src, dst):
        calls.append(src)
        if len(calls) == 2:
            raise OSError("No space left on device")
        real(src, dst)

    monkeypatch.setattr(files, "_copy_file", copy)


def half_write_then_fail(monkeypatch) -> None:
    """Every file written through fsspec's local files (the fake abfss account) stops half way."""
    real = LocalFileOpener.write

    def write(self, data):
        real(self, data[: len(data) // 2])
        raise OSError("connection reset")

    monkeypatch.setattr(LocalFileOpener, "write", write)


def test_a_file_write_that_fails_midway_keeps_the_previous_file_on_abfss(fake_account):  # noqa: F811
    target = UPath(f"{STORAGE}dart_forecast/2025-03-10.parquet")
    write_atomically(target, b"the previous forecast")
    with pytest.MonkeyPatch.context() as patch:
        half_write_then_fail(patch)
        with pytest.raises(OSError, match="connection reset"):
            write_atomically(target, b"a new forecast that never finishes")
    assert tree(fake_account) == {"dart_forecast/2025-03-10.parquet": b"the previous forecast"}


def test_a_folder_replaces_the_previous_one_as_a_whole(tmp_path):
    dst = tmp_path / "models" / "lgbm" / "run-1"
    publish_folder(folder(tmp_path / "v1", "v1"), dst, last="metadata.json")
    publish_folder(folder(tmp_path / "v2", "v2"), dst, last="metadata.json")
    assert tree(dst) == tree(tmp_path / "v2")
    assert [p.name for p in dst.parent.iterdir()] == ["run-1"]  # nothing set aside is left


def test_a_folder_copy_that_fails_midway_leaves_the_previous_folder(tmp_path, monkeypatch):
    dst = tmp_path / "models" / "lgbm" / "run-1"
    publish_folder(folder(tmp_path / "v1", "v1"), dst, last="metadata.json")
    fail_on_second_copy(monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        publish_folder(folder(tmp_path / "v2", "v2"), dst, last="metadata.json")
    assert tree(dst) == tree(tmp_path / "v1")
    assert [p.name for p in dst.parent.iterdir()] == ["run-1"]


def test_a_first_folder_copy_that_fails_midway_leaves_no_folder(tmp_path, monkeypatch):
    dst = tmp_path / "models" / "lgbm" / "run-1"
    fail_on_second_copy(monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        publish_folder(folder(tmp_path / "v1", "v1"), dst, last="metadata.json")
    assert list(dst.parent.iterdir()) == []


def test_two_writers_of_the_same_folder_leave_one_whole_copy(tmp_path):
    dst = tmp_path / "cache" / "v3"
    sources = [folder(tmp_path / f"w{i}", "same") for i in range(2)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def publish(src):
        barrier.wait()
        try:
            for _ in range(20):
                publish_folder(src, dst, last="metadata.json")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(s,)) for s in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert tree(dst) == tree(sources[0])
    assert [p.name for p in dst.parent.iterdir()] == ["v3"]


def test_on_abfss_the_manifest_goes_last_and_an_interrupted_copy_is_not_loadable(fake_account, tmp_path):  # noqa: F811
    """No folder rename on an object store: the old manifest goes first, the new one last."""
    dst = UPath(f"{STORAGE}models/lgbm/run-1")
    publish_folder(folder(tmp_path / "v1", "v1"), dst, last="metadata.json")
    assert tree(fake_account / "models/lgbm/run-1") == tree(tmp_path / "v1")
    real = files.write_atomically
    order: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(files, "write_atomically", lambda path, data: (order.append(path.name), real(path, data)))
        publish_folder(folder(tmp_path / "v2", "v2"), dst, last="metadata.json")
    assert order[-1] == "metadata.json" and sorted(order) == ["metadata.json", "model_a.txt", "model_b.json"]
    assert tree(fake_account / "models/lgbm/run-1") == tree(tmp_path / "v2")

    def fail_on_second(path, data, calls=[]):  # noqa: B006
        calls.append(path.name)
        if len(calls) == 2:
            raise OSError("connection reset")
        real(path, data)

    v3 = folder(tmp_path / "v3", "v3")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(files, "write_atomically", fail_on_second)
        with pytest.raises(OSError, match="connection reset"):
            publish_folder(v3, dst, last="metadata.json")
    assert not (fake_account / "models/lgbm/run-1/metadata.json").exists()  # a bundle loader refuses it
