"""deploy/docker-compose.yml as the integration test runs it: each service's command and environment, read from the
file itself, with only what must differ outside containers replaced (addresses, ports, data folders).

Replacing a value the file does not have is an error, so the test cannot silently drift from the compose file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"

# ${NAME}, ${NAME:-default}, ${NAME:?error}: the compose interpolation forms the file uses.
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?::(?P<op>[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Compose's variable interpolation (the subset above); a `:?` variable that is unset raises its message."""

    def replace(match: re.Match) -> str:
        name, op, arg = match.group("name", "op", "arg")
        if variables.get(name):
            return variables[name]
        if op == "-":
            return arg
        raise KeyError(f"{COMPOSE_FILE.name}: ${{{name}}} is not set ({arg or 'no default'})")

    return _VARIABLE.sub(replace, value)


def services(variables: Mapping[str, str]) -> dict[str, dict]:
    """The compose file's services (YAML anchors and merge keys resolved), variables interpolated."""
    raw = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    out = {}
    for name, body in raw.items():
        environment = {k: interpolate(str(v), variables) for k, v in (body.get("environment") or {}).items()}
        command = [interpolate(str(part), variables) for part in body.get("command") or []]
        out[name] = {**body, "environment": environment, "command": command}
    return out


def with_options(command: list[str], replacements: Mapping[str, str]) -> list[str]:
    """`command` with the value after each named option replaced; every option must be in the command once."""
    argv = list(command)
    for option, value in replacements.items():
        positions = [i for i, part in enumerate(argv) if part == option]
        if len(positions) != 1 or positions[0] + 1 >= len(argv):
            raise ValueError(f"{COMPOSE_FILE.name}: {option} is not in {command} exactly once with a value")
        argv[positions[0] + 1] = value
    return argv


def with_environment(environment: Mapping[str, str], replacements: Mapping[str, str]) -> dict[str, str]:
    """`environment` with the named variables replaced; only variables the service sets can be replaced."""
    unknown = set(replacements) - set(environment)
    if unknown:
        raise ValueError(f"{COMPOSE_FILE.name}: the service does not set {sorted(unknown)}")
    return {**environment, **replacements}


def init_sql_statements() -> list[str]:
    """deploy/postgres-init.sql's statements (the postgres image runs the file on a new cluster)."""
    lines = (DEPLOY / "postgres-init.sql").read_text().splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("--"))
    return [statement.strip() for statement in text.split(";") if statement.strip()]
