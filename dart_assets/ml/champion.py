"""The champion's bundle for a forecast: from the MLflow registry, or from the champion cache when MLflow cannot be
reached, so the morning forecast still goes out (and says where its model came from).

Every champion bundle loaded from MLflow or promoted is cached under `<cache>/<model>/v<registry version>/` as the
bundle itself (its native files and metadata.json with their checksums: no other format), written as a whole
(`common.files.publish_folder`). `<cache>/<model>/champions.json` lists the cached champions, the most recently
seen first (ordered by when the registry was read, so a forecast that read the old champion just before a
promotion does not demote the new one). A cached bundle is verified like any other before it serves; a bundle
that fails verification is refused, never served.

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
from typing import TYPE_CHECKING, Any

from upath import UPath

from dart_assets.common.files import is_local, local_copy, publish_folder, write_atomically
from dart_assets.common.tracking import TrackingUnreachableError
from dart_assets.ml.artifacts import METADATA_FILE, BundleIntegrityError, LoadedModel, load_bundle

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

CHAMPIONS_FILE = "champions.json"
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
    from mlflow import MlflowClient

    from dart_assets.common import registry
    from dart_assets.common.credentials import connect, strip_credentials
    from dart_assets.common.tracking import unreachable
    from dart_assets.ml import tracking

    observed = _now()
    store = connect(tracking_uri)
    try:
        client = MlflowClient(store)
        found = next(((a, v) for a in aliases if (v := registry.by_alias(client, model_name, a)) is not None), None)
        if found is None:
            return None
        alias, current = found
        version, history = current, ""
        if decided is not None and alias == registry.CHAMPION:
            version, history = version_for_decision(client, model_name, current, decided)
        model = tracking.load_bundle_from_run(str(version.run_id))
    except Exception as exc:
        error = unreachable(tracking_uri, exc)
        if error is None:
            raise
        return _from_cache(cache_dir, model_name, error, warn)
    if cache_dir is not None and model.directory is not None and version is current:  # the cache holds champions
        remember(cache_dir, model_name, str(version.version), str(version.run_id), alias, model.directory, observed)
    source = f"{model_name} v{version.version} @{alias} from MLflow at {strip_credentials(tracking_uri)}"
    return ResolvedChampion(model, str(version.version), str(version.run_id), alias, source, False, history)


def version_for_decision(
    client: MlflowClient, model_name: str, champion: ModelVersion, decided: dt.datetime
) -> tuple[ModelVersion, str]:
    """The version to forecast with for a day decided at `decided` (UTC), and what the forecast says about it.

    A backfilled day gets the version that was champion at its decision time (from the promotion times the
    registry keeps); a day before every promotion gets today's champion, which says so: it may have been trained on
    that very day.
    """
    from dart_assets.common import registry

    since = registry.promoted_at(champion)
    if since <= decided:
        return champion, f"the champion at the decision time (v{champion.version}, promoted {since:%Y-%m-%d %H:%M} UTC)"
    then = registry.champion_at(client, model_name, decided)
    if then is not None:
        return then, (
            f"v{then.version}, the champion at this day's decision time (promoted "
            f"{registry.promoted_at(then):%Y-%m-%d %H:%M} UTC); today's champion is v{champion.version}"
        )
    return champion, (
        f"uses today's champion v{champion.version} (promoted {since:%Y-%m-%d %H:%M} UTC, after this day's decision "
        "time: it may have been trained on this very day); see dart_backtest for an honest history"
    )


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
