"""Post-processing of the OpenAPI schema: what drf-spectacular cannot say per serializer."""

from __future__ import annotations

from typing import Any


def close_request_bodies(result: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
    """Request bodies take only the fields they list (`additionalProperties: false`), as the
    server enforces (serializers.ClosedSerializer): a misspelt field is a 400, never silently
    ignored, and a client built from the schema sends nothing else."""
    schemas = result.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        if name.endswith("Request") and "properties" in schema:
            schema["additionalProperties"] = False
    return result
