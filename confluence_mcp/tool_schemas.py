"""Compact JSON Schemas for tool definitions: what a model needs to call a tool and read its result, no more.

Pydantic's schemas carry generated titles, `default: null`, `anyOf [T, null]` for every optional value and `$defs`
for every nested model; across 25 tools that noise is a third of tools/list. Validation is unaffected: the SDK
still validates arguments and results with the pydantic models.
"""

from __future__ import annotations

from typing import Any

__all__ = ["compact_schema"]

_SCHEMA_MAPS = {"properties", "$defs", "definitions", "patternProperties"}
_SCHEMA_LISTS = {"anyOf", "oneOf", "allOf", "prefixItems"}
_NULL = {"type": "null"}
# Keywords that constrain only one JSON type, so they stay valid next to `type: [T, "null"]`.
_TYPED_KEYWORDS = {"type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength",
                   "maxLength", "pattern", "format", "items", "minItems", "maxItems", "uniqueItems"}
_DEF_REF = "#/$defs/"


def compact_schema(schema: Any, *, output: bool = False) -> Any:
    """The same JSON Schema with less noise: no generated titles, no `default: null`, `$defs` used once inlined.

    An optional property's `anyOf [T, null]` is published as plain `T`: inputs omit it rather than send null,
    and results omit None fields (`structured`), so in outputs such a property also leaves `required`. Outputs
    carry no defaults or descriptions; elsewhere (e.g. list items) `anyOf [T, null]` becomes `type: [T, "null"]`.
    Validation on our side is unaffected: the SDK validates arguments and results with the pydantic models."""
    return _inline_single_defs(_compact(schema, output=output, is_property=False))


def _compact(schema: Any, *, output: bool, is_property: bool) -> Any:
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if (key == "title" and isinstance(value, str)) or (key == "default" and (value is None or output)):
            continue
        if output and key == "description" and isinstance(value, str):
            continue
        if not output and ((key == "minLength" and value == 1) or key == "maxLength"):
            continue  # length guards: the server still enforces them, and they tell a model nothing useful
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _compact(sub, output=output, is_property=key == "properties")
                        for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_compact(sub, output=output, is_property=False) for sub in value]
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = _compact(value, output=output, is_property=False)
        else:
            out[key] = value
    if output and isinstance(out.get("required"), list) and isinstance(schema.get("properties"), dict):
        optional = {name for name, sub in schema["properties"].items() if _nullable(sub)}
        out["required"] = [name for name in out["required"] if name not in optional]
        if not out["required"]:
            del out["required"]
    branches = out.get("anyOf")
    if not (isinstance(branches, list) and _NULL in branches):
        return out
    others = [b for b in branches if b != _NULL]
    if is_property:
        # Absent means null here, so the null branch says nothing.
        if len(others) == 1 and not (set(others[0]) & (set(out) - {"anyOf"})):
            del out["anyOf"]
            out.update(others[0])
        else:
            out["anyOf"] = others
        return out
    if len(others) == 1:
        other = others[0]
        if set(other) <= _TYPED_KEYWORDS and isinstance(other.get("type"), str) and other["type"] != "object":
            del out["anyOf"]
            out.update(other)
            out["type"] = [other["type"], "null"] if output else other["type"]
    return out


def _nullable(schema: Any) -> bool:
    return isinstance(schema, dict) and isinstance(schema.get("anyOf"), list) and _NULL in schema["anyOf"]


_ANNOTATIONS = {"title", "description", "default", "examples"}


def _refs(node: Any, found: dict[str, list[set[str]]]) -> dict[str, list[set[str]]]:
    """Each `$defs` entry referenced inside `node`, with the sibling keys of every reference to it."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEF_REF):
            found.setdefault(ref[len(_DEF_REF):], []).append(set(node) - {"$ref"})
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)
    return found


def _reaches(defs: dict[str, Any], start: str, target: str, seen: set[str]) -> bool:
    for name in _refs(defs.get(start), {}):
        if name == target or (name not in seen and _reaches(defs, name, target, seen | {name})):
            return True
    return False


def _inline_single_defs(schema: Any) -> Any:
    """Replace each `$ref` to a `$defs` entry used exactly once by the entry itself (no indirection to read)."""
    if not isinstance(schema, dict) or not isinstance(schema.get("$defs"), dict):
        return schema
    defs: dict[str, Any] = schema["$defs"]
    # Only the reference's annotations (description, ...) may sit next to it, and they override the entry's.
    # A recursive entry stays a reference, or inlining would never end.
    once = {name for name, siblings in _refs(schema, {}).items()
            if name in defs and len(siblings) == 1 and not (siblings[0] & set(defs[name])) - _ANNOTATIONS
            and not _reaches(defs, name, name, set())}

    def inline(node: Any) -> Any:
        if isinstance(node, list):
            return [inline(v) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.removeprefix(_DEF_REF) in once:
            rest = {k: inline(v) for k, v in node.items() if k != "$ref"}
            return {**inline(defs[ref.removeprefix(_DEF_REF)]), **rest}
        return {k: inline(v) for k, v in node.items() if k != "$defs"}

    out = inline(schema)
    kept = {name: inline(body) for name, body in defs.items() if name not in once}
    if kept:
        out["$defs"] = kept
    return out
