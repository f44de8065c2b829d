"""What every HTML page of the harness shares: the Jinja2 environment (autoescape on), number
filters, and the table-sorting script, allowed by its hash in the page's Content-Security-Policy
(so no other script, e.g. one smuggled into endpoint text, could run even if it were not escaped)."""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from importlib.resources import files

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from bench.common.formats import fmt, fmt_unit, pct, pvalue, signed, signed_fmt, sort_key, when
from bench.report.data import colour


@cache
def sort_script() -> tuple[Markup, str]:
    """The script (harness-written, inserted as is) and its CSP source `sha256-…`."""
    text = files("bench.report").joinpath("templates/sort.js").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return Markup(text), f"sha256-{digest}"


def environment() -> Environment:
    env = Environment(loader=PackageLoader("bench.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"], default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(fmt=fmt, fmt_unit=fmt_unit, sv=sort_key, when=when, signed=signed, change=pct,
                       sfmt=signed_fmt, pvalue=pvalue, colour=colour)
    script, digest = sort_script()
    env.globals.update(script=script, script_hash=digest)
    return env
