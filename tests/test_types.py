"""The brief's types follow the schemas: one TypedDict per object of brief.schema.json with the same keys and
required keys, and a Literal wherever the schema has an enum, with the same values. The schemas are the
source of truth; these tests fail when the types in pipeline/brief_types.py and pipeline/models.py drift."""

from __future__ import annotations

import types
from typing import Any, Literal, TypedDict, Union, get_args, get_origin, get_type_hints, is_typeddict

import pytest

from pipeline.brief_types import Brief
from pipeline.models import (
    BriefStatus,
    ClaimKind,
    FailureStage,
    GroundingMatch,
    RejectionStage,
    RelationType,
    ThreadStatus,
)
from pipeline.resources import load_schema

BRIEF_SCHEMA = load_schema("brief")


def resolve(node: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """``node`` with a local ``$ref`` replaced by what it points to (its own keys, a description, kept)."""
    while "$ref" in node:
        target: Any = schema
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{key: value for key, value in node.items() if key != "$ref"}}
    return node


def split_none(hint: Any) -> tuple[Any, bool]:
    """(the hint without None, whether it allowed None)."""
    if get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint):
        rest = [arg for arg in get_args(hint) if arg is not type(None)]
        return (rest[0] if len(rest) == 1 else hint), True  # the brief has only "X | None" unions
    return hint, False


def drift(hint: Any, node: dict[str, Any], path: str, schema: dict[str, Any]) -> list[str]:
    """Where ``hint`` and the schema ``node`` disagree, as paths with what differs."""
    node = resolve(node, schema)
    hint, nullable = split_none(hint)
    problems: list[str] = []
    json_types = node.get("type")
    if json_types is not None:
        schema_nullable = "null" in json_types if isinstance(json_types, list) else json_types == "null"
        if nullable != schema_nullable:
            problems.append(f"{path}: None allowed in the type {nullable}, null in the schema {schema_nullable}")
    if is_typeddict(hint):
        if "properties" not in node:
            return [*problems, f"{path}: {hint.__name__} is a TypedDict, the schema has no properties"]
        hints = get_type_hints(hint)
        if set(hints) != set(node["properties"]):
            problems.append(f"{path}: {hint.__name__} keys {sorted(hints)} != properties {sorted(node['properties'])}")
        if set(hint.__required_keys__) != set(node.get("required", [])):
            problems.append(
                f"{path}: {hint.__name__} required {sorted(hint.__required_keys__)} != {sorted(node['required'])}"
            )
        for key in sorted(set(hints) & set(node["properties"])):
            problems += drift(hints[key], node["properties"][key], f"{path}/{key}", schema)
    elif get_origin(hint) is list:
        if "items" not in node:
            return [*problems, f"{path}: a list, the schema has no items"]
        problems += drift(get_args(hint)[0], node["items"], f"{path}/items", schema)
    elif get_origin(hint) is Literal:
        if set(get_args(hint)) != set(node.get("enum", [])):
            problems.append(f"{path}: Literal {sorted(get_args(hint))} != enum {node.get('enum')}")
    else:
        if json_types == "array" or (isinstance(json_types, list) and "array" in json_types):
            problems.append(f"{path}: the schema has an array, the type {hint} is no list")
        if "properties" in node:
            problems.append(f"{path}: the schema has properties, the type {hint} is no TypedDict")
        if "enum" in node:
            problems.append(f"{path}: the schema has an enum {node['enum']}, the type {hint} is no Literal")
    return problems


def test_brief_typeddicts_match_brief_schema() -> None:
    """Every object: keys = properties, required keys = required; every enum a Literal of its values; None
    allowed exactly where the schema allows null."""
    assert drift(Brief, BRIEF_SCHEMA, "brief", BRIEF_SCHEMA) == []


def enum_at(schema_name: str, *path: str) -> list[Any]:
    schema = load_schema(schema_name)
    node = schema
    for key in path:
        node = resolve(node, schema)[key]
    return list(resolve(node, schema)["enum"])


@pytest.mark.parametrize(
    ("alias", "schema_name", "path"),
    [
        (BriefStatus, "brief", ("properties", "status")),
        (ClaimKind, "brief", ("properties", "claims", "items", "properties", "kind")),
        (ClaimKind, "extraction", ("properties", "claims", "items", "properties", "kind")),
        (RelationType, "brief", ("properties", "relations", "items", "properties", "type")),
        (RelationType, "extraction", ("properties", "relations", "items", "properties", "type")),
        (GroundingMatch, "brief", ("properties", "claims", "items", "properties", "match")),
        (FailureStage, "brief", ("properties", "failures", "items", "properties", "stage")),
        (RejectionStage, "brief", ("properties", "rejected", "items", "properties", "stage")),
    ],
)
def test_literal_aliases_match_schema_enums(alias: Any, schema_name: str, path: tuple[str, ...]) -> None:
    assert sorted(get_args(alias)) == sorted(enum_at(schema_name, *path))


def test_a_threads_status_is_a_briefs_or_pending() -> None:
    """A run's thread is pending while batch answers are out (no brief yet), else it has its brief's status."""
    assert set(get_args(ThreadStatus)) == {*get_args(BriefStatus), "pending"}


class Drifted(TypedDict):
    a: Literal["x", "y"]
    b: str
    c: int


def test_drift_is_caught() -> None:
    """The check itself: a key the schema lacks, an enum value the Literal lacks and a lost null are reported."""
    schema = {
        "type": "object",
        "required": ["a", "b", "c"],
        "properties": {
            "a": {"type": "string", "enum": ["x", "y", "z"]},
            "b": {"type": ["string", "null"]},
            "d": {"type": "integer"},
        },
    }
    problems = drift(Drifted, schema, "t", schema)
    assert [p.split(":")[0] for p in problems] == ["t", "t/a", "t/b"], problems
