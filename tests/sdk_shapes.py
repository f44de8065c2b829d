"""Check wire messages against the official openai SDK's pydantic models, extras included."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter


def extras(model: Any, path: str = "") -> list[str]:
    """Dotted paths of every field the SDK's models do not know."""
    found: list[str] = []
    if isinstance(model, BaseModel):
        found += [f"{path}.{k}".lstrip(".") for k in (model.model_extra or {})]
        for name in type(model).model_fields:
            found += extras(getattr(model, name), f"{path}.{name}")
    elif isinstance(model, (list, tuple)):
        for i, item in enumerate(model):
            found += extras(item, f"{path}.{i}")
    return found


def validate(union: Any, message: dict[str, Any]) -> Any:
    """Parse `message` as one of the SDK's event types; fail on unknown fields."""
    model = TypeAdapter(union).validate_python(message)
    unknown = extras(model)
    assert not unknown, f"{message.get('type')}: fields the SDK does not know: {unknown}"
    return model
