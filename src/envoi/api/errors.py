"""The errors every API operation may answer with, declared in its OpenAPI description.

Which errors an operation can give follows from its shape, so they are declared here in
one place rather than beside each operation: every request may be refused (400: input no
database stores, a body that is not JSON, a value the core refuses); an authenticated
operation may answer 401 and, every one checking a permission, 403; one addressing an
object by id 404, and changing it 409 (a lifecycle move its status forbids); one with a
body 413 past the upload limit; one with parameters or a body 422 (schema validation).
"""

from __future__ import annotations

from typing import Any

ERROR = {
    "title": "Error",
    "type": "object",
    "properties": {
        "detail": {"type": "string", "title": "Detail"},
        # Only where values are checked field by field (a profile's edit): each refused
        # field and what is wrong with it, in the request's Accept-Language.
        "errors": {"type": "object", "title": "Errors",
                   "additionalProperties": {"type": "string"}},
    },
    "required": ["detail"],
}
VALIDATION_ERROR = {
    "title": "ValidationError",
    "type": "object",
    "properties": {"detail": {"type": "array", "title": "Detail", "items": {
        "type": "object",
        "properties": {
            "type": {"type": "string"},
            "loc": {"type": "array", "items": {"anyOf": [{"type": "string"},
                                                          {"type": "integer"}]}},
            "msg": {"type": "string"},
        },
        "required": ["type", "loc", "msg"],
    }}},
    "required": ["detail"],
}

DESCRIPTIONS = {
    400: "Bad request: the detail says which value and what is wrong with it.",
    401: "Missing or invalid bearer token.",
    403: "The token's user lacks the permission this operation needs.",
    404: "No object with that id.",
    409: "The object's status does not allow this change now.",
    413: "The request body is over the upload limit.",
    422: "The request does not match the schema: each error names its location.",
}

WRITES = frozenset({"post", "put", "patch", "delete"})


def errors_of(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses ``operation`` (``method`` on ``path``) can answer with."""
    codes = [400]
    if operation.get("security"):
        codes += [401, 403]
    if "{" in path:
        codes.append(404)
        if method in WRITES:
            codes.append(409)
    if "requestBody" in operation:
        codes.append(413)
    if operation.get("parameters") or "requestBody" in operation:
        codes.append(422)
    return codes


def declare_errors(schema: Any) -> Any:
    """Add the error responses, with their schemas, to every operation of ``schema``."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR
    components["ValidationError"] = VALIDATION_ERROR
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code in errors_of(path, method, operation):
                name = "ValidationError" if code == 422 else "Error"
                responses.setdefault(str(code), {
                    "description": DESCRIPTIONS[code],
                    "content": {"application/json": {
                        "schema": {"$ref": f"#/components/schemas/{name}"}}},
                })
    return schema
