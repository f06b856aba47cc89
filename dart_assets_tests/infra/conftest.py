"""Shared parsing of infra/terraform (python-hcl2) for the infra tests. No network, no terraform binary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
import pytest

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "infra" / "terraform"
AZUREML = REPO / "infra" / "azureml"


def unquote(value: Any) -> Any:
    """python-hcl2 keeps string literals quoted ('"TLS1_2"'); interpolations stay as '${...}'."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def strip_meta(node: Any) -> Any:
    """Drop python-hcl2's __comments__/__is_block__ keys and unquote keys and string values, recursively."""
    if isinstance(node, dict):
        return {unquote(k): strip_meta(v) for k, v in node.items() if not str(k).startswith("__")}
    if isinstance(node, list):
        return [strip_meta(v) for v in node]
    return unquote(node)


@dataclass
class Terraform:
    resources: dict[str, dict[str, dict]] = field(default_factory=dict)  # type -> name -> body
    data: dict[str, dict[str, dict]] = field(default_factory=dict)
    variables: dict[str, dict] = field(default_factory=dict)
    outputs: dict[str, dict] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    terraform: list[dict] = field(default_factory=list)
    providers: list[dict] = field(default_factory=list)
    text: dict[str, str] = field(default_factory=dict)  # file name -> raw text

    def resource(self, rtype: str, name: str) -> dict:
        assert rtype in self.resources and name in self.resources[rtype], f"missing resource {rtype}.{name}"
        return self.resources[rtype][name]

    def variable_default(self, name: str) -> Any:
        return self.variables[name].get("default")

    def expressions(self) -> list[str]:
        """Every string in the parsed configuration (comments excluded): where var./local./resource references live."""
        out: list[str] = []
        walk_strings(
            [self.resources, self.data, self.variables, self.outputs, self.locals, self.terraform, self.providers], out
        )
        return out


def walk_strings(node: Any, out: list[str]) -> None:
    if isinstance(node, dict):
        for value in node.values():
            walk_strings(value, out)
    elif isinstance(node, list):
        for value in node:
            walk_strings(value, out)
    elif isinstance(node, str):
        out.append(node)


def parse_terraform(folder: Path = TERRAFORM) -> Terraform:
    tf = Terraform()
    files = sorted(folder.glob("*.tf"))
    assert files, f"no .tf files in {folder}"
    for path in files:
        tf.text[path.name] = path.read_text()
        with path.open() as handle:
            parsed = strip_meta(hcl2.load(handle))
        for block in parsed.get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    assert name not in tf.resources.get(rtype, {}), f"duplicate resource {rtype}.{name}"
                    tf.resources.setdefault(rtype, {})[name] = body
        for block in parsed.get("data", []):
            for dtype, named in block.items():
                for name, body in named.items():
                    tf.data.setdefault(dtype, {})[name] = body
        for block in parsed.get("variable", []):
            tf.variables.update(block)
        for block in parsed.get("output", []):
            tf.outputs.update(block)
        for block in parsed.get("locals", []):
            tf.locals.update(block)
        tf.terraform.extend(parsed.get("terraform", []))
        tf.providers.extend(parsed.get("provider", []))
    return tf


@pytest.fixture(scope="session")
def tf() -> Terraform:
    return parse_terraform()
