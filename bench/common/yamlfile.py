"""YAML loading that remembers where every value came from, so errors can name file:line.

Hand-written files are untrusted input, so loading is bounded before anything is built: at most
`MAX_BYTES` of strict UTF-8 text (no NUL bytes), nesting at most `MAX_DEPTH` deep, and the
document expanded through its aliases at most `MAX_NODES` nodes (an alias bomb is refused after
one pass over the events, a recursive alias at once). Keys must be scalars and unique. Every
refusal is a `ScenarioError` naming the file and, where there is one, the line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from bench.common.errors import ScenarioError

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

MAX_BYTES = 1 << 20
"""Largest YAML file read (1 MiB): scenarios, targets and policies are a few KiB."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences accepted."""
MAX_NODES = 100_000
"""Most nodes the document may hold once every alias is expanded."""

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_text(path: str | Path) -> str:
    """A file's text: at most MAX_BYTES, strict UTF-8 (a BOM is dropped), no NUL bytes."""
    name = str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(name, None, "", f"cannot read: {exc.strerror or exc}") from None
    return decode_text(raw, name)


def decode_text(raw: bytes, name: str) -> str:
    """`raw` as text under the same limits as `read_text`; `name` is used in errors."""
    if len(raw) > MAX_BYTES:
        raise ScenarioError(name, None, "", f"larger than {MAX_BYTES // 1024} KiB: not a hand-written file")
    if b"\0" in raw:
        line = raw[: raw.index(b"\0")].count(b"\n") + 1
        raise ScenarioError(name, line, "", "a NUL byte: this is a binary file, not YAML")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError(name, line, "", f"not UTF-8 text (byte 0x{raw[exc.start]:02x})") from None


def _check_events(source: str, name: str) -> None:
    """One pass over the parse events: depth, recursive aliases and the expanded size."""
    sizes: list[int] = []  # expanded node count of each open collection
    anchors: list[str | None] = []
    done: dict[str, int] = {}  # anchor → expanded node count of its (closed) node
    total = 0

    def line(ev: yaml.Event) -> int | None:
        return ev.start_mark.line + 1 if ev.start_mark is not None else None

    def add(n: int, ev: yaml.Event) -> None:
        nonlocal total
        total += n
        if total > MAX_NODES:
            raise ScenarioError(name, line(ev), "",
                                f"more than {MAX_NODES} values once aliases are expanded (an alias bomb?)")
        if sizes:
            sizes[-1] += n

    for ev in yaml.parse(source, Loader=_Loader):
        if isinstance(ev, yaml.AliasEvent):
            if ev.anchor in anchors:
                raise ScenarioError(name, line(ev), "", f"recursive alias *{ev.anchor}")
            add(done.get(str(ev.anchor), 1), ev)
        elif isinstance(ev, yaml.CollectionStartEvent):
            if len(sizes) >= MAX_DEPTH:
                raise ScenarioError(name, line(ev), "", f"nested more than {MAX_DEPTH} deep")
            sizes.append(1)
            anchors.append(ev.anchor)
            total += 1
        elif isinstance(ev, yaml.CollectionEndEvent):
            n, anchor = sizes.pop(), anchors.pop()
            if anchor is not None:
                done[anchor] = n
            if sizes:
                sizes[-1] += n
        elif isinstance(ev, yaml.ScalarEvent):
            if ev.anchor is not None:
                done[ev.anchor] = 1
            add(1, ev)


def _scalar(node: yaml.Node, name: str) -> Any:
    if node.tag == "tag:yaml.org,2002:merge":
        raise ScenarioError(name, node.start_mark.line + 1, "", "merge keys (<<) are not supported")
    try:
        return yaml.constructor.SafeConstructor().construct_object(node)
    except (yaml.YAMLError, ValueError, OverflowError) as exc:
        value = str(node.value)
        shown = value if len(value) <= 40 else value[:37] + "..."
        line = node.start_mark.line + 1
        raise ScenarioError(name, line, "", f"bad value {shown!r}: {_problem(exc)}") from None


def _build(node: yaml.Node, loc: Loc, lines: dict[Loc, int], name: str) -> Any:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ScenarioError(name, key_node.start_mark.line + 1, _dotted(loc),
                                    "a key must be a plain value, not a mapping or a list")
            key = _scalar(key_node, name)
            if key in out:
                raise ScenarioError(name, key_node.start_mark.line + 1, _dotted((*loc, key)),
                                    f"duplicate key (first on line {lines[(*loc, key)]})")
            out[key] = _build(value_node, (*loc, key), lines, name)
            lines[(*loc, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(v, (*loc, i), lines, name) for i, v in enumerate(node.value)]
    return _scalar(node, name)


def _dotted(loc: Loc) -> str:
    return ".".join(str(p) for p in loc)


def load_yaml(path: str | Path, text: str | None = None) -> tuple[Any, dict[Loc, int]]:
    """Parse YAML (from `text`, else the file) within the limits above; return the data and a
    map from key path to 1-based line number."""
    name = str(path)
    source = read_text(path) if text is None else decode_text(text.encode("utf-8", "surrogatepass"), name)
    try:
        _check_events(source, name)
        node = yaml.compose(source, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ScenarioError(name, _line(exc, source), "", f"invalid YAML: {_problem(exc)}") from None
    lines: dict[Loc, int] = {}
    if node is None:
        return None, lines
    return _build(node, (), lines, name), lines


def _line(exc: yaml.YAMLError, source: str) -> int | None:
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    position = getattr(exc, "position", None)  # a ReaderError: an unprintable character
    return source[:position].count("\n") + 1 if isinstance(position, int) else None


def _problem(exc: Exception) -> str:
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return str(problem)


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
