"""The schema files are the contract: self-describing, versioned, and (for model output) strict-mode safe."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.resources import load_schema, response_schema, schema_names


def properties(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for name, child in (node.get("properties") or {}).items():
            found.append((f"{path}/{name}", child))
            found += properties(child, f"{path}/{name}")
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                found += properties(node[key], f"{path}/{key}")
        for name, child in (node.get("$defs") or {}).items():
            found += properties(child, f"{path}/$defs/{name}")
    return found


@pytest.mark.parametrize("name", schema_names())
def test_every_schema_has_identity_version_and_a_description_on_every_field(name: str) -> None:
    schema = load_schema(name)
    assert schema["$id"].endswith(f"/{name}.schema.json") and schema["title"] and schema["description"]
    assert schema["version"] == "1.0"
    undescribed = [path for path, node in properties(schema) if "description" not in node and "$ref" not in node]
    assert undescribed == []


def closed_and_complete(node: Any, path: str = "") -> list[str]:
    problems: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "object":
            if node.get("additionalProperties") is not False:
                problems.append(f"{path}: additionalProperties must be false")
            if sorted(node.get("required", [])) != sorted(node.get("properties", {})):
                problems.append(f"{path}: every property must be required")
        for key, child in node.items():
            problems += closed_and_complete(child, f"{path}/{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            problems += closed_and_complete(child, f"{path}/{index}")
    return problems


@pytest.mark.parametrize("name", ["extraction", "summary"])
def test_model_schemas_stay_inside_openai_strict_mode(name: str) -> None:
    sent = response_schema(name)
    assert closed_and_complete(sent) == []
    assert not {"$schema", "$id", "version"} & set(sent)  # file metadata is not sent
    assert {k: v for k, v in load_schema(name).items() if k not in ("$schema", "$id", "version")} == sent
