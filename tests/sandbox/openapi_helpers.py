"""Atlassian's Cloud OpenAPI documents for tests: loading, path templates, $ref pointers, JSON Schema translation.

Shared by the sandbox's response checks (tests/sandbox/test_sandbox_openapi.py) and the client's request checks
(tests/client/test_client_requests_match_spec.py).
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest
from sandbox_helpers import shared_dir

__all__ = ["SPECS", "V1", "V2", "needs_specs", "nullable", "path_template", "pointer", "spec"]

SPECS = shared_dir() / "specs"
V1, V2 = "confluence-cloud-v1.openapi.json", "confluence-cloud-v2.openapi.json"
needs_specs = pytest.mark.skipif(not (SPECS / V1).is_file() or not (SPECS / V2).is_file(),
                                 reason=f"OpenAPI specs not found in {SPECS} (set CONFLUENCE_MCP_SHARED)")


def nullable(node: Any) -> Any:
    """OpenAPI 3.0 `nullable: true` → JSON Schema `type: [T, "null"]` (or anyOf for $ref/allOf)."""
    if isinstance(node, list):
        return [nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: nullable(value) for key, value in node.items()}
    if converted.pop("nullable", False) is True:
        if isinstance(converted.get("type"), str):
            converted["type"] = [converted["type"], "null"]
        else:
            return {"anyOf": [converted, {"type": "null"}]}
    return converted


@cache
def spec(name: str) -> dict[str, Any]:
    return nullable(json.loads((SPECS / name).read_text(encoding="utf-8")))


def pointer(*parts: str) -> str:
    """A JSON pointer (`#/paths/~1pages/get/...`) into the document, for a `$ref` resolved inside it."""
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def path_template(spec_doc: dict[str, Any], path: str, method: str) -> str | None:
    """The spec path template matching a concrete path (literal segments beat parameters)."""
    candidates = []
    for template, operations in spec_doc["paths"].items():
        if method not in operations:
            continue
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            candidates.append((template.count("{"), template))
    return min(candidates)[1] if candidates else None
