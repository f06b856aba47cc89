"""Writes a crash cannot leave half done, on a local folder or an object store (abfss://).

A file is written to a temporary sibling and renamed over its target: readers see the old file or the new one. A
folder (a model bundle, a training output) is assembled under a temporary sibling name and renamed into place
where folders can be renamed (a local disk); on an object store, which has no folder rename, its manifest (the file
`last`, e.g. metadata.json, whose checksums the loader verifies) is removed first and written last, so a reader
finds the old complete folder, no loadable folder, or the new complete one. A temporary name starts with a dot
and ends in `.tmp`: what a killed writer leaves behind is never at a path anything loads from.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import uuid
from pathlib import Path

from upath import UPath

TMP_SUFFIX = ".tmp"


def is_local(path: UPath | Path) -> bool:
    """A path on this machine's disk (a plain path, or a UPath without a protocol or with file://)."""
    return not isinstance(path, UPath) or path.protocol in ("", "file")


def _local(path: UPath | Path) -> Path:
    return Path(path.path) if isinstance(path, UPath) else Path(path)


def _temp_sibling(path: UPath) -> UPath:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}{TMP_SUFFIX}")


def write_atomically(path: UPath | Path, payload: bytes) -> None:
    """Write to a sibling temp file, then rename over the target: readers see the old file or the new one."""
    path = UPath(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_sibling(path)
    try:
        with tmp.open("wb") as handle:
            handle.write(payload)
        tmp.fs.mv(tmp.path, path.path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _copy_file(src: Path, dst: Path) -> None:
    """One file of a folder being published (a seam the crash tests stop in)."""
    shutil.copyfile(src, dst)


def _files(src: Path, last: str | None) -> list[Path]:
    """Every file under `src`, `last` (relative to src) at the end."""
    files = sorted(p for p in src.rglob("*") if p.is_file())
    if last is not None:
        marker = src / last
        if marker not in files:
            raise FileNotFoundError(f"{src}: no {last} to publish last")
        files = [p for p in files if p != marker] + [marker]
    return files


def publish_folder(src: Path, dst: UPath | Path, last: str | None = None) -> None:
    """Make `dst` a copy of the local folder `src`, replacing any earlier `dst` as a whole (see the module doc).

    `last`: the manifest file (relative to src); required on object stores, where it is what makes the folder whole.
    """
    files = _files(Path(src), last)
    if is_local(dst):
        _publish_local(Path(src), _local(dst), files)
        return
    if last is None:
        raise ValueError(f"{dst}: publishing a folder to an object store needs a manifest file to write last")
    dst = UPath(dst)
    marker = dst / last
    if marker.exists():
        marker.unlink()  # the old folder stops being loadable before any of its files changes
    for file in files:
        write_atomically(dst.joinpath(*file.relative_to(src).parts), file.read_bytes())


def _publish_local(src: Path, dst: Path, files: list[Path]) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    staging = _local(_temp_sibling(UPath(dst)))
    try:
        for file in files:
            target = staging / file.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            _copy_file(file, target)
        _swap_into_place(staging, dst)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _swap_into_place(staging: Path, dst: Path) -> None:
    """Rename `staging` to `dst`, moving an existing `dst` aside first (a folder cannot be renamed over a non-empty
    one); safe against another writer publishing the same folder at the same moment."""
    set_aside: list[Path] = []
    while True:
        try:
            os.rename(staging, dst)
            break
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        old = _local(_temp_sibling(UPath(dst)))
        try:
            os.rename(dst, old)
            set_aside.append(old)
        except FileNotFoundError:
            continue  # the other writer moved it aside first
    for old in set_aside:
        shutil.rmtree(old, ignore_errors=True)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def local_copy(folder: UPath | Path, into: Path) -> Path:
    """`folder` itself when local, else a copy of it downloaded into `into` (native model loaders need a path)."""
    if is_local(folder):
        return _local(folder)
    folder = UPath(folder)
    into.mkdir(parents=True, exist_ok=True)
    for remote in folder.rglob("*"):
        if remote.is_file():
            target = into.joinpath(*remote.relative_to(folder).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(remote.read_bytes())
    return into
