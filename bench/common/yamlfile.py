"""YAML loading that remembers where every value came from, so errors can name file:line."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from bench.common.errors import ScenarioError

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


def _build(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> Any:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node))
            out[key] = _build(value_node, (*loc, key), lines)
            lines[(*loc, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(v, (*loc, i), lines) for i, v in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def load_yaml(path: str | Path, text: str | None = None) -> tuple[Any, dict[Loc, int]]:
    """Parse YAML; return the data and a map from key path to 1-based line number."""
    name = str(path)
    try:
        source = Path(path).read_text(encoding="utf-8") if text is None else text
    except OSError as exc:
        raise ScenarioError(name, None, "", f"cannot read: {exc.strerror or exc}") from exc
    try:
        node = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(name, line, "", f"invalid YAML: {problem}") from exc
    lines: dict[Loc, int] = {}
    if node is None:
        return None, lines
    return _build(node, (), lines), lines


def line_of(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of the deepest known prefix of `loc`."""
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def field_name(loc: Loc) -> str:
    """`session.turn_detection.threshold` from a pydantic error location (union tags left out)."""
    return ".".join(str(p) for p in loc if not (isinstance(p, str) and p[:1].isupper()))


def validate(model: type[M], data: Any, lines: dict[Loc, int], path: str, prefix: Loc = ()) -> M:
    """`model` from YAML data; the first validation error becomes a ScenarioError naming the
    file, the line and the field. `prefix` is where `data` sits in the file."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = (*prefix, *(x for x in err["loc"] if isinstance(x, (str, int))))
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        msg = err["msg"].removeprefix("Value error, ")
        raise ScenarioError(path, line_of(lines, loc), field_name(loc), msg + more) from None
