"""Check one entry of the sandbox's request log against Atlassian's Cloud OpenAPI documents.

`problems(entry)` returns what is wrong with the request, each with a stable `key`
(`METHOD template kind:name`) that allow-lists match and a message naming the request and the offending part.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import jsonschema
from openapi_helpers import V1, V2, path_template, pointer, spec

__all__ = ["V1_PREFIX", "V2_PREFIX", "Problem", "operation_of", "problems"]

V1_PREFIX, V2_PREFIX = "/wiki/rest/api", "/wiki/api/v2"  # v1 templates carry the prefix, v2 ones do not


@dataclass(frozen=True)
class Problem:
    key: str  # "GET /wiki/rest/api/content/search query:cursor", "POST /pages body:/title type"
    message: str


def operation_of(method: str, path: str) -> tuple[str, str, str] | None:
    """(spec name, path relative to the spec's paths, template) for a REST path; None if the spec lacks it."""
    name, relative = (V1, path) if path.startswith(V1_PREFIX + "/") else (V2, path[len(V2_PREFIX):])
    template = path_template(_checked_spec(name), relative, method.lower())
    return (name, relative, template) if template else None


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        for part in node["$ref"].removeprefix("#/").split("/"):
            doc = doc[part.replace("~1", "/").replace("~0", "~")]
        node = doc  # type: ignore[assignment]
    return node


def _parameters(doc: dict[str, Any], template: str, method: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Path-level then operation-level parameters (the operation's win), by (location, name)."""
    item = doc["paths"][template]
    declared = [_resolve(doc, p) for p in [*item.get("parameters", []), *item[method].get("parameters", [])]]
    return {(p["in"], p["name"]): p for p in declared}


def _typed(value: str, schema: dict[str, Any]) -> Any:
    """A query or path string as the JSON value its schema describes (left as text when it does not parse)."""
    kind = schema.get("type")
    if kind == "integer" and re.fullmatch(r"-?\d+", value):
        return int(value)
    if kind == "number" and re.fullmatch(r"-?\d+(\.\d+)?", value):
        return float(value)
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def _value_errors(doc: dict[str, Any], param: dict[str, Any], values: list[str]) -> list[str]:
    schema = _resolve(doc, param.get("schema", {}))
    if schema.get("type") == "array":
        items = _resolve(doc, schema.get("items", {}))
        if "enum" in schema and "enum" not in items:  # v1 puts some item enums on the array (content/{id} status)
            items = {**items, "enum": schema["enum"]}
            schema = {**{k: v for k, v in schema.items() if k != "enum"}, "items": items}
        # Atlassian's arrays are comma-separated ("Multiple ids can be specified as a comma-separated list")
        # although most leave style/explode at OpenAPI's repeat-the-name default; accept both unless explicit.
        parts = values if param.get("explode") is True else [part for value in values for part in value.split(",")]
        instance: Any = [_typed(part, items) for part in parts]
    elif len(values) > 1:
        return [f"repeated {len(values)} times but is not an array"]
    else:
        instance = _typed(values[0], schema)
    if param["name"] == "expand":
        return []  # expansions are free text (`body.storage`, `children.page`...); the spec lists no enum
    checker = jsonschema.Draft7Validator({**doc, **schema})  # the document's keys keep nested $refs resolvable
    return [error.message for error in checker.iter_errors(instance)]


def _body_problems(doc: dict[str, Any], template: str, method: str, entry: dict[str, Any], head: str,
                   key: str) -> list[Problem]:
    body = doc["paths"][template][method].get("requestBody")
    content = _resolve(doc, body)["content"] if body else {}
    media = entry["content_type"].split(";", 1)[0].strip().lower()
    if not media:
        if body and _resolve(doc, body).get("required"):
            return [Problem(f"{key} body:missing", f"{head}: sends no body; the operation requires one")]
        return []
    if media.startswith("multipart/"):
        if "multipart/form-data" not in content:
            return [Problem(f"{key} body:multipart", f"{head}: multipart upload to an operation without "
                                                     "multipart/form-data")]
        return _form_problems(doc, content["multipart/form-data"].get("schema", {}), entry, head, key)
    if "json_error" in entry or entry.get("body_omitted"):
        return [Problem(f"{key} body:unreadable", f"{head}: JSON body {entry.get('json_error', 'too large to log')}")]
    if "application/json" not in content:
        return [Problem(f"{key} body:json", f"{head}: JSON body, but the operation declares "
                                            f"{sorted(content) or 'no request body'}")]
    root = {**doc, "$ref": pointer("paths", template, method, "requestBody", "content", "application/json",
                                   "schema")}
    if "$ref" in body:  # a shared requestBody under components
        root["$ref"] = body["$ref"] + "/content/application~1json/schema"
    found = []
    for error in jsonschema.Draft7Validator(root).iter_errors(entry.get("json")):
        where = "/" + "/".join(str(p) for p in error.absolute_path)
        found.append(Problem(f"{key} body:{where} {error.validator}",
                             f"{head}: body at {where} fails `{error.validator}`: {error.message[:300]}"))
    return found


@cache
def _checked_spec(name: str) -> dict[str, Any]:
    """The document requests are checked against: v1 as published; v2 with its write bodies made checkable.

    As published, v2's `oneOf [PageBodyWrite, PageNestedBodyWrite]` (and the blog-post pair) can never hold:
    neither declares a required property, so a documented `{representation, value}` body matches both, and a
    misspelt one matches too. Here the flat form requires both fields and the nested form takes only its format
    names, as Atlassian's prose describes them."""
    if name != V2:
        return spec(name)
    doc = copy.deepcopy(spec(V2))
    schemas = doc["components"]["schemas"]
    for kind in ("Page", "BlogPost"):
        schemas[f"{kind}BodyWrite"].update(required=["representation", "value"], additionalProperties=False)
        schemas[f"{kind}NestedBodyWrite"].update(minProperties=1, additionalProperties=False)
    return doc


def _form_problems(doc: dict[str, Any], schema: dict[str, Any], entry: dict[str, Any], head: str,
                   key: str) -> list[Problem]:
    """The part names of a multipart body against the form schema (required and declared properties)."""
    if "form" not in entry:
        return []  # too large to log; nothing to check
    schema = _resolve(doc, schema)
    sent, declared = set(entry["form"]), set(schema.get("properties", {}))
    found = [Problem(f"{key} form:{name}", f"{head}: required multipart part `{name}` is missing")
             for name in schema.get("required", []) if name not in sent]
    found += [Problem(f"{key} form:{name}", f"{head}: multipart part `{name}` is not declared")
              for name in sorted(sent - declared) if declared]
    return found


def problems(entry: dict[str, Any]) -> list[Problem]:
    """What in this logged REST request the spec does not allow (empty when it conforms)."""
    method, path = entry["method"].lower(), entry["path"]
    query = "&".join(f"{name}={value}" for name, value in entry["query"])
    head = f"{method.upper()} {path}{'?' + query if query else ''}"
    located = operation_of(method, path)
    if located is None:
        return [Problem(f"{method.upper()} {path} operation:", f"{head}: no {method.upper()} operation in the "
                                                               "spec matches this path")]
    name, relative, template = located
    doc = _checked_spec(name)
    key = f"{method.upper()} {template}"
    declared = _parameters(doc, template, method)
    found: list[Problem] = []
    by_name: dict[str, list[str]] = {}
    for param_name, value in entry["query"]:
        by_name.setdefault(param_name, []).append(value)
    for param_name, values in by_name.items():
        param = declared.get(("query", param_name))
        if param is None:
            found.append(Problem(f"{key} query:{param_name}", f"{head}: query parameter `{param_name}` is not "
                                                              f"declared for {key}"))
            continue
        for error in _value_errors(doc, param, values):
            found.append(Problem(f"{key} query:{param_name}", f"{head}: query parameter `{param_name}`="
                                                              f"{values}: {error}"))
    for (where, param_name), param in declared.items():
        if where == "query" and param.get("required") and param_name not in by_name:
            found.append(Problem(f"{key} query:{param_name}", f"{head}: required query parameter `{param_name}` "
                                                              "is missing"))
    segments = dict(zip(template.split("/"), relative.split("/"), strict=True))
    for segment, value in segments.items():
        param = declared.get(("path", segment.strip("{}")))
        if segment.startswith("{") and param is not None:
            for error in _value_errors(doc, param, [value]):
                found.append(Problem(f"{key} path:{segment}", f"{head}: path parameter {segment}={value!r}: "
                                                               f"{error}"))
    return found + _body_problems(doc, template, method, entry, head, key)
