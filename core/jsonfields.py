"""Marshmallow fields that take JSON types only (marshmallow also converts "12", 1.0, 0/1)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma


class StrictInteger(ma.fields.Integer):
    """A JSON integer: "12", 12.5, true are refused."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


class StrictFloat(ma.fields.Float):
    """A JSON number: "1.5" and true are refused."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


class JSONBoolean(ma.fields.Boolean):
    """A JSON true or false: 0, 1, "yes" are refused."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value
