"""The MLflow model registry as the single source of truth for which model is in production, for both domains.

`champion` is the version downstream code loads; `previous` is the one it replaced, kept for a one-step rollback.
A promotion or a rollback reads the champion, then moves two aliases: two at once could leave `previous` on the
wrong version or let the older champion win. They are serialized: by a file lock beside a SQLite store, and across
runs of a deployment by the one-slot `registry` pool the promotion steps carry.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from filelock import FileLock

if TYPE_CHECKING:  # mlflow costs about a second to import: the code location only needs this module's names
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

CHAMPION = "champion"
PREVIOUS = "previous"
FALLBACK = "fallback"
"""The naive forecaster the morning run serves while no model has ever passed the gate (DART domain)."""
ROLE_TAG = "role"
PROMOTED_AT_TAG = "promoted_at_utc"
"""Version tag: when the version became champion (ISO 8601, UTC). MLflow keeps no history of its aliases."""
# MLflow's answers for "no such model" and "no such alias": anything else (an unreachable store) propagates.
_ABSENT = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}


def champion(client: MlflowClient, model_name: str) -> ModelVersion | None:
    """The current champion version, or None when nothing has been promoted yet."""
    return by_alias(client, model_name, CHAMPION)


def by_alias(client: MlflowClient, model_name: str, alias: str) -> ModelVersion | None:
    """The version `alias` points at, None if the model or the alias does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(model_name, alias)
    except MlflowException as exc:
        if exc.error_code in _ABSENT:
            return None
        raise


@contextlib.contextmanager
def serialized(client: MlflowClient) -> Iterator[None]:
    """Held while aliases move: a file lock beside a SQLite registry (other stores rely on the `registry` pool)."""
    uri = str(client.tracking_uri)  # the registry lives in the tracking store here
    if not uri.startswith("sqlite:///"):
        yield
        return
    with FileLock(uri[len("sqlite:///") :] + ".registry.lock", timeout=300):
        yield


def promoted_at(version: ModelVersion) -> dt.datetime:
    """When `version` became champion: its promotion tag, else its registration time (a version is registered
    by its promotion, so the two agree for versions promoted before the tag existed)."""
    tagged = (version.tags or {}).get(PROMOTED_AT_TAG)
    if tagged:
        return dt.datetime.fromisoformat(tagged).astimezone(dt.UTC)
    return dt.datetime.fromtimestamp(version.creation_timestamp / 1000, dt.UTC)


@dataclass(frozen=True)
class RegisteredVersion:
    """What a forecast needs of a model version: its run (for the bundle) and when it became champion."""

    version: str
    run_id: str
    promoted_at: dt.datetime
    fallback: bool = False
    """Registered as the naive fallback (`set_fallback`): never a champion."""


@dataclass(frozen=True)
class RegistrySnapshot:
    """One model's aliases and versions as read at one moment: enough to pick the version a forecast serves
    without asking the registry again while it has not changed (`ml.champion` keeps one per store state)."""

    aliases: Mapping[str, str]
    """alias -> version"""
    versions: Mapping[str, RegisteredVersion]

    def by_alias(self, alias: str) -> RegisteredVersion | None:
        version = self.aliases.get(alias)
        return self.versions.get(version) if version is not None else None

    def champion_at(self, when: dt.datetime) -> RegisteredVersion | None:
        """The version that was champion at `when`: the last one promoted at or before it; None if none was yet.

        Rebuilt from the promotion times, so a rollback (which moves the alias without a new promotion) is not
        seen: after one, days between the rollback and the next promotion resolve to the last promoted version.
        """
        earlier = [v for v in self.versions.values() if not v.fallback and v.promoted_at <= when]
        return max(earlier, key=lambda v: v.promoted_at, default=None)

    def to_dict(self) -> dict[str, object]:
        return {
            "aliases": dict(self.aliases),
            "versions": [
                {
                    "version": v.version,
                    "run_id": v.run_id,
                    "promoted_at": v.promoted_at.isoformat(),
                    "fallback": v.fallback,
                }
                for v in self.versions.values()
            ],
        }

    @classmethod
    def from_dict(cls, stored: Mapping[str, object]) -> RegistrySnapshot:
        versions = [
            RegisteredVersion(
                str(v["version"]),
                str(v["run_id"]),
                dt.datetime.fromisoformat(str(v["promoted_at"])),
                bool(v["fallback"]),
            )
            for v in stored["versions"]  # type: ignore[attr-defined]
        ]
        return cls(dict(stored["aliases"]), {v.version: v for v in versions})  # type: ignore[call-overload]


def snapshot(client: MlflowClient, model_name: str) -> RegistrySnapshot | None:
    """`model_name`'s aliases and versions now (two registry calls), None if the model is not registered."""
    from mlflow.exceptions import MlflowException

    try:
        aliases = dict(client.get_registered_model(model_name).aliases or {})
    except MlflowException as exc:
        if exc.error_code in _ABSENT:
            return None
        raise
    found = client.search_model_versions(f"name='{model_name}'")
    versions = {
        str(v.version): RegisteredVersion(
            str(v.version), str(v.run_id), promoted_at(v), (v.tags or {}).get(ROLE_TAG) == FALLBACK
        )
        for v in found
    }
    return RegistrySnapshot({a: str(v) for a, v in aliases.items()}, versions)


def promote(
    client: MlflowClient, model_name: str, source_uri: str, run_id: str, tags: Mapping[str, object]
) -> ModelVersion:
    """Register `source_uri` as a new version and make it the champion; the old champion becomes `previous`."""
    with serialized(client):
        old = champion(client, model_name)
        version = _register(client, model_name, source_uri, run_id, tags)
        if old is not None:
            client.set_registered_model_alias(model_name, PREVIOUS, old.version)
        client.set_registered_model_alias(model_name, CHAMPION, version.version)
        return client.get_model_version(model_name, version.version)


def rollback(client: MlflowClient, model_name: str) -> tuple[ModelVersion, ModelVersion]:
    """Swap `champion` and `previous`; returns (new champion, new previous). Running it twice undoes it."""
    with serialized(client):
        current, before = champion(client, model_name), by_alias(client, model_name, PREVIOUS)
        if current is None or before is None:
            raise LookupError(f"{model_name}: rollback needs both a '{CHAMPION}' and a '{PREVIOUS}' version")
        client.set_registered_model_alias(model_name, CHAMPION, before.version)
        client.set_registered_model_alias(model_name, PREVIOUS, current.version)
        return (
            client.get_model_version(model_name, before.version),
            client.get_model_version(model_name, current.version),
        )


def set_fallback(
    client: MlflowClient, model_name: str, source_uri: str, run_id: str, tags: Mapping[str, object]
) -> ModelVersion:
    """Register `source_uri` under the `fallback` alias alone (tagged role=fallback; champion and previous do not
    move), unless the alias already points at a version of `run_id`; returns the fallback version."""
    with serialized(client):
        current = by_alias(client, model_name, FALLBACK)
        if current is not None and current.run_id == run_id:
            return current
        version = _register(client, model_name, source_uri, run_id, {**tags, ROLE_TAG: FALLBACK})
        client.set_registered_model_alias(model_name, FALLBACK, version.version)
        return client.get_model_version(model_name, version.version)


def _register(
    client: MlflowClient, model_name: str, source_uri: str, run_id: str, tags: Mapping[str, object]
) -> ModelVersion:
    """A new version of `model_name` (created on first use); call it holding `serialized`."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(model_name)
    except MlflowException as exc:
        if exc.error_code not in _ABSENT:
            raise
        client.create_registered_model(model_name, description="Promoted by the dart-assets Dagster graph")
    return client.create_model_version(model_name, source_uri, run_id=run_id, tags={k: str(v) for k, v in tags.items()})
