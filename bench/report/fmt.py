"""Numbers for people, one format per kind of value (ms, USD, %, MOS…)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

KINDS = {"ms": "ms", "USD": "usd", "": "plain", "MOS": "mos", "x": "plain", "tok/s": "plain", "s": "plain"}
"""Registry unit → format kind."""


def fmt(v: Any, kind: str = "plain") -> str:
    """`v` formatted as `kind` (`ms`, `usd`, `pct`, `mos`, `int`, `plain`); "—" for no value."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
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
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
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
