"""report.html: one self-contained file. Every value from an endpoint is HTML-escaped by Jinja2's
autoescape; only SVG the harness drew itself is inserted as markup."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from bench.metrics.registry import METRICS
from bench.report.plots import cdf, latency_distribution
from bench.results.records import TurnRecord
from bench.results.store import REPORT

PLOTTED = ("v2v_ms", "ttfb_ms", "ttft_ms", "e2e_ms")
TURN_ROWS = 300
"""The per-turn table shows at most this many turns (all are in calls.jsonl)."""


def _env() -> Environment:
    env = Environment(loader=PackageLoader("bench.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    return env


def _num(v: Any, unit: str = "") -> str:
    if v is None:
        return "—"
    if unit == "USD":
        return f"${v:.5f}"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def _series(records: list[TurnRecord], metric: str) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for r in records:
        v = r.metrics.get(metric)
        if r.ok and not r.warmup and v is not None:
            out[f"{r.target} · {r.transport} · {r.variant}"].append(v)
    return out


def render(manifest: dict[str, Any], summary: dict[str, Any], records: list[TurnRecord]) -> str:
    plots = []
    for metric in PLOTTED:
        svg = latency_distribution(_series(records, metric), metric)
        if svg:
            plots.append((metric, METRICS[metric].label, Markup(svg)))
    v2v_cdf = cdf(_series(records, "v2v_ms"), "v2v_ms")
    return _env().get_template("report.html.j2").render(
        manifest=manifest, summary=summary, metrics=METRICS, plots=plots,
        cdf=Markup(v2v_cdf) if v2v_cdf else None, turns=records[:TURN_ROWS],
        total_turns=len(records), targets_json=json.dumps(manifest.get("targets", []), indent=2))


def write_report(run_dir: Path, manifest: dict[str, Any], summary: dict[str, Any],
                 records: list[TurnRecord]) -> Path:
    path = run_dir / REPORT
    path.write_text(render(manifest, summary, records), encoding="utf-8")
    return path
