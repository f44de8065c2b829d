"""Output formats and numbers for people, in one place: the registry of renderers of compare
and gate, writing a result to the terminal or a file, and every number format (the report's
`fmt` kinds, the tables' `num`/`signed`/`pct`/`pvalue`, JSON's `rounded`)."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from rich.console import Console, RenderableType

from bench.common.errors import UnknownNameError, UserError

T = TypeVar("T")
Rendered = RenderableType
"""A `str` (written as is) or a rich renderable (a table for the terminal)."""


class Formats(Generic[T]):
    """An explicit registry of output formats for one kind of result."""

    def __init__(self, kind: str, renderers: dict[str, Callable[[T], Rendered]]) -> None:
        self.kind, self._renderers = kind, dict(renderers)

    @property
    def names(self) -> list[str]:
        return list(self._renderers)

    def get(self, name: str) -> Callable[[T], Rendered]:
        if name not in self._renderers:
            raise UnknownNameError(f"{self.kind} format", name, self.names)
        return self._renderers[name]


def to_text(rendered: Rendered, width: int = 160) -> str:
    """Plain text of a rendered result (rich renderables without colour)."""
    if isinstance(rendered, str):
        return rendered if rendered.endswith("\n") else rendered + "\n"
    buf = io.StringIO()
    Console(file=buf, width=width, no_color=True, force_terminal=False).print(rendered)
    return buf.getvalue()


def emit(rendered: Rendered, out: Path | None) -> None:
    """Write to `out`, or print to the terminal (in colour when it is one)."""
    if out is not None:
        try:
            out.write_text(to_text(rendered), encoding="utf-8")
        except OSError as exc:
            raise UserError(f"{out}: cannot write: {exc.strerror or exc}") from None
    elif isinstance(rendered, str):
        sys.stdout.write(to_text(rendered))
    else:
        Console().print(rendered)


def absent(v: Any) -> bool:
    """No value to show: None, NaN or ±inf."""
    return v is None or (isinstance(v, float) and not math.isfinite(v))


def rounded(x: float | None, digits: int = 6) -> float | None:
    """`x` to `digits` significant digits (stable JSON across platforms); None and NaN → None."""
    if x is None or math.isnan(x):
        return None
    if x == 0 or math.isinf(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def num(x: float | None, unit: str = "") -> str:
    """A value for people: 4 significant digits, or "—"."""
    if x is None or absent(x):
        return "—"
    if unit == "ms" and abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.4g}"


def signed(x: float | None, unit: str = "") -> str:
    text = num(x, unit)
    return text if x is None or absent(x) or x < 0 else f"+{text}"


def pct(ratio: float | None) -> str:
    """A ratio B/A as a signed percentage change."""
    return "—" if ratio is None else f"{(ratio - 1) * 100:+.1f}%"


def pvalue(p: float | None) -> str:
    if p is None:
        return "—"
    return f"{p:.2g}" if p >= 1e-4 else "<1e-4"


def dump_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# --- the report's number kinds ---------------------------------------------------------------

KINDS = {"ms": "ms", "USD": "usd", "": "plain", "MOS": "mos", "x": "plain", "tok/s": "plain", "s": "plain"}
"""Registry unit → format kind."""


def fmt(v: Any, kind: str = "plain") -> str:
    """`v` formatted as `kind` (`ms`, `usd`, `pct`, `mos`, `int`, `plain`); "—" for no value."""
    if absent(v):
        return "—"
    x = float(v)
    if kind == "ms":
        return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.1f}"
    if kind == "usd":
        return f"${x:.3g}" if x < 1 else f"${x:,.2f}"
    if kind == "pct":
        return f"{100 * x:.1f}%"
    if kind == "mos":
        return f"{x:.2f}"
    if kind == "int":
        return f"{int(x):,}"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def signed_fmt(v: Any, kind: str = "plain") -> str:
    """Like `fmt`, with a + on positive values (a change)."""
    text = fmt(v, kind)
    return "+" + text if text != "—" and float(v) > 0 else text


def fmt_unit(v: Any, unit: str) -> str:
    """`v` in the format of a registry unit (WER, unit "", as a percentage is the caller's call)."""
    return fmt(v, KINDS.get(unit, "plain"))


def sort_key(v: Any) -> str:
    """The `data-v` of a table cell: a number the sorting script compares numerically ("" sorts last)."""
    if absent(v):
        return ""
    return repr(float(v))


def when(iso: Any) -> str:
    """An ISO timestamp to the second ("2025-01-01 00:00:00 UTC"); "—" when absent."""
    if not iso:
        return "—"
    try:
        t = dt.datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        return str(iso)
    zone = " UTC" if t.utcoffset() == dt.timedelta(0) else ""
    return t.strftime("%Y-%m-%d %H:%M:%S") + zone
