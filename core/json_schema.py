"""Strict JSON schemas from Pydantic models, for OpenAI-compatible structured outputs (`core.ai`)."""

from typing import Any

from pydantic import BaseModel

# The part of JSON Schema that strict structured outputs accept on every OpenAI-compatible provider.
# Length, pattern, range and format constraints are left to the Pydantic validation that follows;
# titles (Pydantic's field names again) only cost tokens.
_STRICT_KEYWORDS = frozenset(
    {"type", "properties", "required", "additionalProperties", "items", "anyOf", "enum", "const"}
    | {"$ref", "$defs", "description"}
)


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`model`'s JSON schema as OpenAI's strict structured outputs accept it.

    Every object closes (`additionalProperties: false`) and requires all its properties: an Optional
    field stays nullable (the model answers null), a field with a default must be given. Definitions
    stay in `$defs`; a `$ref` with siblings (a description) is inlined, which strict mode requires.
    Free-form mappings (`dict[str, X]`) and tuples cannot be expressed and are refused.
    """
    root = model.model_json_schema()
    definitions: dict[str, dict[str, Any]] = root.get("$defs", {})
    strict = _strict(root, definitions, path=model.__name__)
    if definitions:
        strict["$defs"] = {
            name: _strict(definition, definitions, path=name) for name, definition in definitions.items()
        }
    return strict


def _strict(node: dict[str, Any], definitions: dict[str, dict[str, Any]], path: str) -> dict[str, Any]:
    if len(node.get("allOf", ())) == 1:
        # Older Pydantic wraps a reference with a description in a one-item allOf.
        merged = {**node["allOf"][0], **{key: value for key, value in node.items() if key != "allOf"}}
        return _strict(merged, definitions, path)
    if "prefixItems" in node:
        raise TypeError(f"{path}: strict structured outputs cannot express a tuple")
    kept = {key: value for key, value in node.items() if key in _STRICT_KEYWORDS and key != "$defs"}
    if "$ref" in kept and len(kept) > 1:
        reference = kept.pop("$ref")
        kept = {**definitions[reference.removeprefix("#/$defs/")], **kept}
        return _strict(kept, definitions, path)
    strict: dict[str, Any] = {}
    for key, value in kept.items():
        if key == "properties":
            strict[key] = {name: _strict(sub, definitions, f"{path}.{name}") for name, sub in value.items()}
        elif key == "items" and isinstance(value, dict):
            strict[key] = _strict(value, definitions, f"{path}[]")
        elif key == "anyOf":
            strict[key] = [_strict(variant, definitions, path) for variant in value]
        else:
            strict[key] = value
    if strict.get("type") == "object":
        if strict.get("additionalProperties", False) is not False:
            raise TypeError(f"{path}: strict structured outputs cannot express a free-form mapping")
        strict["properties"] = strict.get("properties", {})
        strict["required"] = list(strict["properties"])
        strict["additionalProperties"] = False
    return strict
