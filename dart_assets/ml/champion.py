"""The champion's bundle for a forecast: from the MLflow registry, or from the champion cache when MLflow cannot be
reached, so the morning forecast still goes out (and says where its model came from).

Every champion bundle loaded from MLflow or promoted is cached under `<cache>/<model>/v<registry version>/` as the
bundle itself (its native files and metadata.json with their checksums: no other format), written as a whole
(`common.files.publish_folder`). `<cache>/<model>/champions.json` lists the cached champions, the most recently
seen first (ordered by when the registry was read, so a forecast that read the old champion just before a
promotion does not demote the new one). A cached bundle is verified like any other before it serves; a bundle
that fails verification is refused, never served.

A cached champion also serves while MLflow is up, instead of a download, and `<cache>/<model>/registry.json`
keeps the registry as last read (aliases, versions, promotion times) with the state of the store it was read at:
while a SQLite store's file is unchanged, the forecast reads that and never imports MLflow (about 3 s saved of a
morning run); any write to the store, an alias moved in the MLflow UI included, makes the next forecast ask the
registry again.

A forecast for a past day (a backfill) asks for the version that was champion at that day's decision time
(`decided`): the registry's promotion times give it (`version_for_decision`), so a backfill does not forecast with a
model trained on the day it forecasts; the forecast's metadata says which version it used and why.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from upath import UPath

from dart_assets.common.files import is_local, local_copy, publish_folder, write_atomically
from dart_assets.common.registry import RegisteredVersion, RegistrySnapshot
from dart_assets.common.tracking import TrackingUnreachableError
from dart_assets.ml.artifacts import METADATA_FILE, BundleIntegrityError, LoadedModel, load_bundle

CHAMPIONS_FILE = "champions.json"
REGISTRY_FILE = "registry.json"
"""The registry as last read, with the store state it was read at (`store_state`)."""
KEEP = 5
"""Cached champions kept per model (older ones are deleted)."""
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolvedChampion:
    model: LoadedModel
    version: str
    run_id: str
    alias: str
    source: str
    """Where the bundle came from, for the forecast's metadata, e.g. "MLflow unreachable at <uri>: served from
    cached champion v3"."""
    cached: bool
    history: str = ""
    """Why this version serves this day (a backfilled day's champion then, or today's); empty when not asked."""


def resolve_champion_bundle(
    tracking_uri: str,
    model_name: str,
    cache_dir: str | None,
    aliases: Sequence[str] = ("champion",),
    warn: Callable[[str], None] = log.warning,
    decided: dt.datetime | None = None,
) -> ResolvedChampion | None:
    """The bundle of the first of `aliases` the registry has (None if it has none of them), cached on the way;
    from the cache, with a warning, when MLflow cannot be reached. With `decided` (a decision time, UTC), the
    champion alias resolves to the version that was champion then. TrackingUnreachableError when MLflow cannot be
    reached and no cached champion loads; BundleIntegrityError for a bundle that fails its checksums."""
    resolved = resolve_champion_bundles(tracking_uri, model_name, cache_dir, [decided], aliases, warn)
    return None if resolved is None else resolved[0]


def resolve_champion_bundles(
    tracking_uri: str,
    model_name: str,
    cache_dir: str | None,
    decided: Sequence[dt.datetime | None],
    aliases: Sequence[str] = ("champion",),
    warn: Callable[[str], None] = log.warning,
) -> list[ResolvedChampion] | None:
    """`resolve_champion_bundle` for each of `decided` (a backfill's days): one registry read, each version loaded
    once.

    MLflow is not even imported when the store provably did not change since the cache last read the registry
    (a SQLite store's file, see `store_state`) and the bundles are cached: the morning forecast's fast path."""
    from dart_assets.common.credentials import strip_credentials

    observed = _now()
    state = store_state(tracking_uri)
    snapshot = _stored_snapshot(cache_dir, model_name, state)
    fresh = snapshot is None
    models: dict[str, LoadedModel] = {}
    try:
        if snapshot is None:
            snapshot = _read_registry(tracking_uri, model_name)
            if snapshot is not None and state is not None and cache_dir is not None:
                _store_snapshot(cache_dir, model_name, state, snapshot)
        found = [_choose(snapshot, aliases, when) if snapshot is not None else None for when in decided]
        choices = [choice for choice in found if choice is not None]
        if len(choices) < len(found):
            return None  # the registry has none of the aliases (whether it has one does not depend on the day)
        for _, version, _, _ in choices:
            if version.version not in models:
                models[version.version] = _cached_bundle(cache_dir, model_name, version, warn) or _download(
                    tracking_uri, version.run_id
                )
    except Exception as exc:
        from dart_assets.common.tracking import unreachable

        error = unreachable(tracking_uri, exc)
        if error is None:
            raise
        return [_from_cache(cache_dir, model_name, error, warn)] * len(decided)
    read = "" if fresh else " (registry unchanged since the cache read it)"
    resolved, remembered = [], False
    for alias, version, current, history in choices:
        model = models[version.version]
        if version is current and not remembered and cache_dir is not None and model.directory is not None:
            # The cache holds champions; every day's current one is the same version.
            remember(cache_dir, model_name, version.version, version.run_id, alias, model.directory, observed)
            remembered = True
        source = f"{model_name} v{version.version} @{alias} from MLflow at {strip_credentials(tracking_uri)}{read}"
        resolved.append(ResolvedChampion(model, version.version, version.run_id, alias, source, False, history))
    return resolved


def store_state(tracking_uri: str) -> str | None:
    """A fingerprint of the tracking store's state that changes with every write to it, None when one cannot be
    had without asking the store: a SQLite file (and its write-ahead log) changes size or mtime on every commit,
    an MLflow server or another database gives no such signal, so they are always asked."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    database = Path(tracking_uri[len("sqlite:///") :])
    parts = []
    for path in (database, database.with_name(database.name + "-wal")):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        parts.append(f"{path.name}:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}")
    return ";".join(parts) or None


def version_for_decision(
    snapshot: RegistrySnapshot, champion: RegisteredVersion, decided: dt.datetime
) -> tuple[RegisteredVersion, str]:
    """The version to forecast with for a day decided at `decided` (UTC), and what the forecast says about it.

    A backfilled day gets the version that was champion at its decision time (from the promotion times the
    registry keeps); a day before every promotion gets today's champion, which says so: it may have been trained on
    that very day.
    """
    since = champion.promoted_at
    if since <= decided:
        return champion, f"the champion at the decision time (v{champion.version}, promoted {since:%Y-%m-%d %H:%M} UTC)"
    then = snapshot.champion_at(decided)
    if then is not None:
        return then, (
            f"v{then.version}, the champion at this day's decision time (promoted "
            f"{then.promoted_at:%Y-%m-%d %H:%M} UTC); today's champion is v{champion.version}"
        )
    return champion, (
        f"uses today's champion v{champion.version} (promoted {since:%Y-%m-%d %H:%M} UTC, after this day's decision "
        "time: it may have been trained on this very day); see dart_backtest for an honest history"
    )


def _choose(
    snapshot: RegistrySnapshot, aliases: Sequence[str], decided: dt.datetime | None
) -> tuple[str, RegisteredVersion, RegisteredVersion, str] | None:
    """(alias, the version to serve, the alias's current version, why) for the first alias the registry has."""
    from dart_assets.common import registry

    found = next(((a, v) for a in aliases if (v := snapshot.by_alias(a)) is not None), None)
    if found is None:
        return None
    alias, current = found
    if decided is not None and alias == registry.CHAMPION:
        version, history = version_for_decision(snapshot, current, decided)
        return alias, version, current, history
    return alias, current, current, ""


def _read_registry(tracking_uri: str, model_name: str) -> RegistrySnapshot | None:
    from mlflow import MlflowClient

    from dart_assets.common import registry
    from dart_assets.common.credentials import connect

    return registry.snapshot(MlflowClient(connect(tracking_uri)), model_name)


def _download(tracking_uri: str, run_id: str) -> LoadedModel:
    from dart_assets.common.credentials import connect
    from dart_assets.ml import tracking

    connect(tracking_uri)
    return tracking.load_bundle_from_run(run_id)


def _stored_snapshot(cache_dir: str | None, model_name: str, state: str | None) -> RegistrySnapshot | None:
    """The registry as the cache last read it, if the store has not changed since (same `store_state`)."""
    if cache_dir is None or state is None:
        return None
    path = _root(cache_dir, model_name) / REGISTRY_FILE
    try:
        stored = json.loads(path.read_text())
        return RegistrySnapshot.from_dict(stored) if stored.get("store_state") == state else None
    except (OSError, ValueError, KeyError, TypeError):  # absent or unreadable: read the registry instead
        return None


def _store_snapshot(cache_dir: str, model_name: str, state: str, snapshot: RegistrySnapshot) -> None:
    """Kept with the store's state taken BEFORE the registry was read: a write during the read changes the state,
    so the snapshot is never trusted for a store it may not match."""
    root = _root(cache_dir, model_name)
    if is_local(root):
        Path(root.path).mkdir(parents=True, exist_ok=True)
    write_atomically(root / REGISTRY_FILE, json.dumps({"store_state": state, **snapshot.to_dict()}).encode())


def _cached_bundle(
    cache_dir: str | None, model_name: str, version: RegisteredVersion, warn: Callable[[str], None]
) -> LoadedModel | None:
    """The cached bundle of `version` (the same run), verified by its checksums; None if it is not cached, or if
    it fails verification (then it is dropped, with a warning, and the registry's copy serves and is re-cached)."""
    if cache_dir is None:
        return None
    root = _root(cache_dir, model_name)
    entry = next((e for e in _entries(root) if e["version"] == version.version), None)
    folder = root / f"v{version.version}"
    if entry is None or entry["run_id"] != version.run_id or not (folder / METADATA_FILE).exists():
        return None
    try:
        return load_bundle(local_copy(folder, Path(tempfile.mkdtemp(prefix="dart_cached_"))))
    except (OSError, ValueError, KeyError) as exc:  # BundleIntegrityError is a ValueError
        warn(f"cached {model_name} v{version.version} in {folder} does not load ({exc}); using the registry's copy")
        with _lock(root):
            folder.fs.rm(folder.path, recursive=True)
        return None


def remember(
    cache_dir: str,
    model_name: str,
    version: str,
    run_id: str,
    alias: str,
    bundle_dir: Path,
    observed: str | None = None,
) -> None:
    """Cache `bundle_dir` as `model_name` v`version` (unless already cached) and record it as the champion seen at
    `observed` (ISO UTC; default now)."""
    root = _root(cache_dir, model_name)
    folder = root / f"v{version}"
    with _lock(root):
        entries = _entries(root)
        known = next((e for e in entries if e["version"] == version), None)
        if known is None or known["run_id"] != run_id or not (folder / METADATA_FILE).exists():
            publish_folder(bundle_dir, folder, last=METADATA_FILE)
        entry = {"version": version, "run_id": run_id, "alias": alias, "observed_utc": observed or _now()}
        if known is not None and known["run_id"] == run_id and known["observed_utc"] >= entry["observed_utc"]:
            return  # already recorded, and as recently
        entries = sorted(
            [entry, *(e for e in entries if e["version"] != version)], key=lambda e: e["observed_utc"], reverse=True
        )
        write_atomically(root / CHAMPIONS_FILE, json.dumps(entries[:KEEP], indent=2).encode())
        for dropped in entries[KEEP:]:
            old = root / f"v{dropped['version']}"
            if old.exists():
                old.fs.rm(old.path, recursive=True)


def _from_cache(
    cache_dir: str | None, model_name: str, error: TrackingUnreachableError, warn: Callable[[str], None]
) -> ResolvedChampion:
    if cache_dir is None:
        raise error
    root = _root(cache_dir, model_name)
    entries = _entries(root)
    if not entries:
        reason = f"{error.reason}; and no champion of {model_name} is cached in {root}"
        raise TrackingUnreachableError(error.store, reason)
    problems = []
    for entry in entries:
        folder = root / f"v{entry['version']}"
        try:
            model = load_bundle(local_copy(folder, Path(tempfile.mkdtemp(prefix="dart_cached_"))))
        except (OSError, ValueError, KeyError) as exc:  # BundleIntegrityError is a ValueError
            kind = "refused" if isinstance(exc, BundleIntegrityError) else "unreadable"
            problems.append(f"v{entry['version']} {kind}: {exc}")
            continue
        source = f"MLflow unreachable at {error.store}: served from cached champion v{entry['version']}"
        warn(f"{source} (seen as @{entry['alias']} at {entry['observed_utc']}; {error.reason})")
        history = f"the latest cached champion (v{entry['version']}): the registry's history cannot be read"
        return ResolvedChampion(model, entry["version"], entry["run_id"], entry["alias"], source, True, history)
    raise TrackingUnreachableError(error.store, f"{error.reason}; no cached champion loads: {'; '.join(problems)}")


def _root(cache_dir: str, model_name: str) -> UPath:
    base = UPath(cache_dir) if "://" in cache_dir else UPath(Path(cache_dir).resolve())
    return base / model_name


def _entries(root: UPath) -> list[dict[str, Any]]:
    path = root / CHAMPIONS_FILE
    if not path.exists():
        return []
    return list(json.loads(path.read_text()))


def _lock(root: UPath) -> AbstractContextManager[Any]:
    """Serializes cache updates on a local disk (an object store has no lock; its writes are atomic per file)."""
    if not is_local(root):
        return nullcontext()
    from filelock import FileLock

    Path(root.path).mkdir(parents=True, exist_ok=True)
    return FileLock(str(Path(root.path) / ".lock"), timeout=120)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()
