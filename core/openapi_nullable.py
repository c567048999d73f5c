"""OpenAPI: document a nullable nested object as "the schema, or null", not "any object".

apispec renders ``Nested(..., allow_none=True)`` for OpenAPI 3.0 as
``anyOf: [{$ref}, {type: object, nullable: true}]``: the second branch admits any object, so the
document would promise that unknown fields are accepted where the schema refuses them.
"""

from __future__ import annotations

from typing import Any

from flask_smorest import Api


def document_nullable_nested_as_null(api: Api) -> None:
    """Register the attribute function that narrows the null branch to ``null`` itself."""

    def narrow(_converter: Any, _field: Any, ret: dict[str, Any], **_: Any) -> dict[str, Any]:
        branches = ret.get("anyOf")
        if not branches:
            return {}
        fixed = [
            {"nullable": True, "enum": [None]}
            if branch == {"type": "object", "nullable": True}
            else branch
            for branch in branches
        ]
        return {"anyOf": fixed}

    api.ma_plugin.converter.add_attribute_function(narrow)
