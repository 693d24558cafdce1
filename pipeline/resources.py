"""Prompt and schema files: located, read, hashed and rendered.

Input: a prompt or schema name. Output: its text, parsed schema, sha256, or the rendered prompt.
Failure modes: a missing file raises FileNotFoundError; a prompt variable left unset raises
KeyError (``string.Template.substitute``), so a template and its caller cannot drift silently.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

import fastjsonschema

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

_PACKAGE_DIR = Path(__file__).resolve().parent


def _resource_dir(name: str) -> Path:
    # A wheel carries prompts/ and schemas/ inside the package; a source checkout has them beside it.
    inside = _PACKAGE_DIR / name
    return inside if inside.is_dir() else _PACKAGE_DIR.parent / name


def prompt_path(name: str) -> Path:
    return _resource_dir("prompts") / f"{name}.md"


def schema_path(name: str) -> Path:
    return _resource_dir("schemas") / f"{name}.schema.json"


def schema_names() -> list[str]:
    return sorted(p.name.removesuffix(".schema.json") for p in _resource_dir("schemas").glob("*.schema.json"))


@cache
def prompt_text(name: str) -> str:
    return prompt_path(name).read_text(encoding="utf-8")


@cache
def prompt_sha256(name: str) -> str:
    return hashlib.sha256(prompt_path(name).read_bytes()).hexdigest()


def render_prompt(name: str, **variables: str) -> str:
    return Template(prompt_text(name)).substitute(**variables)


@cache
def schema_bytes(name: str) -> bytes:
    return schema_path(name).read_bytes()


def load_schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(schema_bytes(name))
    return schema


_FILE_METADATA = ("$schema", "$id", "version")


def response_schema(name: str) -> dict[str, Any]:
    """The schema as sent to a model: the same file without the file-level metadata (identity and
    version), which strict structured-output modes need not accept."""
    return {key: value for key, value in load_schema(name).items() if key not in _FILE_METADATA}


@cache
def schema_sha256(name: str) -> str:
    return hashlib.sha256(schema_bytes(name)).hexdigest()


@cache
def validator(name: str) -> Draft202012Validator:
    # Imported on first use (a tenth of a second): a valid instance never needs it (see schema_errors).
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema(name))


@cache
def _fast_check(name: str) -> Callable[[Any], Any]:
    return fastjsonschema.compile(load_schema(name))


def schema_errors(name: str, instance: Any, limit: int = 20) -> list[str]:
    """Path-qualified validation messages, e.g. ``claims/0/quote: 3 is not of type 'string'``.

    The verdict comes first from the schema compiled to Python (fastjsonschema, several times faster:
    `make schema-speed` measures it; this runs on every model answer and every brief); the messages, for
    the rare invalid instance, from jsonschema's Draft202012Validator. Both read the same schema file."""
    try:
        _fast_check(name)(instance)
        return []
    except fastjsonschema.JsonSchemaException:
        pass
    errors = sorted(validator(name).iter_errors(instance), key=lambda e: list(e.absolute_path))
    messages = []
    for error in errors[:limit]:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        messages.append(f"{where}: {error.message}")
    if len(errors) > limit:
        messages.append(f"... and {len(errors) - limit} more")
    return messages
