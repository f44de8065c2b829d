"""report.html: one self-contained file (inline CSS, inline SVG, a few lines of inline JS to sort
tables, audio as `data:` URIs): it opens offline and fetches nothing. Every value from an
endpoint is HTML-escaped by Jinja2's autoescape; only SVG the harness drew itself is inserted
as markup."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from markupsafe import Markup

from bench.analysis.groups import Group, GroupKey, SnrKey, groups_of
from bench.common.errors import UserError
from bench.common.yamlfile import load_yaml
from bench.metrics.registry import METRICS
from bench.report import plots
from bench.report.behaviour import barge_in_section, image_section, tools_section
from bench.report.clips import SECONDS, turn_clips
from bench.report.data import colour
from bench.report.headline import headline
from bench.report.load_curves import load_section
from bench.report.page import environment
from bench.report.providers import ALPHA, provider_pairs
from bench.report.speech_rate import speech_rate_section
from bench.report.status import run_status
from bench.report.tables import (
    error_rows,
    flat,
    setup_row,
    snr_label,
    snr_levels,
    snr_p50,
    snr_rows,
    throughput_row,
    turn_rows,
    wer_columns,
)
from bench.report.transport import MOST, TransportPair, transport_pairs
from bench.report.waterfall import Highlight, highlights, phases
from bench.report.wer_table import NUMBERS_NOTE, wer_section
from bench.results.columns import TurnTable
from bench.results.store import REPORT
from bench.results.summary import Summary

PLOTTED = ("v2v_ms", "ttft_ms", "ttfb_ms", "e2e_ms")
TURN_ROWS = 300
"""The per-turn table shows at most this many turns (all are in calls.jsonl)."""
WATERFALLS = 8
"""Turns shown as waterfalls at most (typical and slowest of the first groups)."""
AUDIO_TURNS = 4
"""Of those, turns whose audio is embedded (input and output, a few seconds each)."""


def _svg(text: str | None) -> Markup | None:
    """SVG drawn by `bench.report.plots` (never data from an endpoint) as markup."""
    return Markup(text) if text else None


def latency_figures(groups: Sequence[Group]) -> list[dict[str, Any]]:
    out = []
    for metric in PLOTTED:
        series = [plots.Series(g.label, colour(g), g.values(metric)) for g in groups]
        svg = plots.distribution(series, f"{metric} (ms)")
        if svg:
            out.append({"metric": metric, "label": METRICS[metric].label, "svg": _svg(svg)})
    return out


Item = dict[str, Any]


def waterfall_items(run_dir: Path | None, picked: Sequence[Highlight]) -> list[tuple[Group, list[Item]]]:
    """Per group (in order), its picked turns with their waterfall and, for the first
    `AUDIO_TURNS` turns, their audio."""
    out: dict[GroupKey, tuple[Group, list[Item]]] = {}
    for k, h in enumerate(picked):
        items = phases(h.record.marks, h.record.mode)
        clips = turn_clips(run_dir, h.record) if run_dir is not None and k < AUDIO_TURNS else {}
        item = {"h": h, "phases": items, "svg": _svg(plots.waterfall(items)), "clips": clips}
        out.setdefault(h.group.key, (h.group, []))[1].append(item)
    return list(out.values())


def snr_section(groups: Sequence[Group]) -> Item | None:
    """v2v p50 and pooled WER (up to three WER metrics) at each input SNR; None without noise."""
    levels = snr_levels(groups)
    if not levels:
        return None

    def lines(fn: Callable[[Group, SnrKey], float | None]) -> list[plots.Line]:
        return [plots.Line(g.label, colour(g), [fn(g, s) for s in levels]) for g in groups]

    panels = [("v2v p50 (ms)", lines(lambda g, s: snr_p50(g, "v2v_ms", s)))]
    for name, _ in wer_columns(groups)[:3]:
        panels.append((f"{name} pooled (%)", lines(_wer_at(name))))
    svg = plots.by_snr([snr_label(s) for s in levels], panels)
    return {"svg": _svg(svg), "rows": snr_rows(groups, levels), "wer": wer_columns(groups)}


def _wer_at(metric: str) -> Callable[[Group, SnrKey], float | None]:
    """Pooled WER in percent at an SNR."""
    def at(g: Group, snr: SnrKey) -> float | None:
        wer = g.pooled_wer(metric, snr)
        return None if wer is None else 100 * wer

    return at


def transport_section(groups: Sequence[Group]) -> list[Item]:
    return [{"pair": pair, "svg": _svg(_transport_plot(pair))} for pair in transport_pairs(groups)]


def _transport_plot(pair: TransportPair) -> str | None:
    rows = [(d.metric, d.change.diff, d.change.diff_ci.low, d.change.diff_ci.high, colour(pair.b))
            for d in pair.latency]
    return plots.intervals(rows, f"Δ p50, {pair.b.key[1]} − {pair.a.key[1]} (ms)")


def _drawn(section: Item | None) -> Item | None:
    """A section with its plot (SVG text from `bench.report.plots`) as markup."""
    return None if section is None else {**section, "svg": _svg(section.get("svg"))}


def compare_reference(manifest: dict[str, Any]) -> str | None:
    """The scenario's `compare.reference` target, read from the scenario text the manifest keeps."""
    text = (manifest.get("scenario") or {}).get("text")
    if not isinstance(text, str) or "compare" not in text:
        return None
    try:
        data, _ = load_yaml("scenario", text)  # within the harness's size, depth and alias limits
    except UserError:
        return None
    ref = (data.get("compare") or {}).get("reference") if isinstance(data, dict) else None
    return ref if isinstance(ref, str) else None


def behaviour_sections(groups: Sequence[Group], table: TurnTable, summary: Summary) -> Item:
    """The sections that appear only when the run has their data (issues 11 and 12)."""
    load = summary.harness.get("load") if summary.harness else None
    return {"barge_in": _drawn(barge_in_section(groups)), "tools": tools_section(groups),
            "speech_rate": _drawn(speech_rate_section(groups, table)), "image": image_section(groups, table),
            "load_curves": _drawn(load_section(load, table))}


def render(manifest: dict[str, Any], summary: Summary, table: TurnTable, run_dir: Path | None = None,
           baseline: str | None = None) -> str:
    """The page; `run_dir` (where the audio files are) is needed for the audio samples only. Full
    records are read only for the turns shown (the turn table and the waterfalls). `baseline`:
    the target the others are compared with side by side (default: the scenario's
    `compare.reference`, else the first target)."""
    groups = groups_of(table)
    picked = highlights(groups, table, WATERFALLS)
    return environment().get_template("report.html.j2").render(
        providers=provider_pairs(groups, baseline or compare_reference(manifest)), provider_alpha=ALPHA,
        **behaviour_sections(groups, table, summary),
        manifest=manifest, scenario=manifest.get("scenario") or {}, harness=manifest.get("harness") or {},
        summary=summary, groups=groups, headline=headline(groups), status=run_status(manifest, table),
        latency=latency_figures(groups), waterfalls=waterfall_items(run_dir, picked),
        throughput=[throughput_row(g) for g in groups], snr=snr_section(groups),
        wer=wer_section(groups, table), numbers_note=NUMBERS_NOTE,
        transports=transport_section(groups), errors=error_rows(groups),
        turns=turn_rows(table.records(range(min(TURN_ROWS, len(table))))), total_turns=len(table),
        setup=[setup_row(g) for g in groups],
        run_info=flat({"machine": manifest.get("machine", {}), "options": manifest.get("options", {})}),
        targets=target_rows(manifest), metrics=METRICS, clip_seconds=SECONDS,
        transport_most=MOST)


def target_rows(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The manifest's targets as table rows: the price entry applied in words (entry, date,
    simulated or not; why none applies), empty lists as "—"."""
    rows = []
    for t in manifest.get("targets", []):
        row = {"name": t.get("name")}  # first, whatever order the manifest's keys come in
        row.update({k: (None if v in ((), []) else v) for k, v in t.items() if k not in ("name", "price")})
        price = t.get("price")
        if isinstance(price, dict):
            if price.get("model"):
                row["price"] = (f"{price['model']} (as of {price.get('as_of') or '?'}"
                                f"{', simulated' if price.get('simulated') else ''})")
            else:
                row["price"] = price.get("reason") or "none"
        rows.append(row)
    return rows


def write_report(run_dir: Path, manifest: dict[str, Any], summary: Summary, table: TurnTable,
                 baseline: str | None = None) -> Path:
    path = run_dir / REPORT
    path.write_text(render(manifest, summary, table, run_dir, baseline), encoding="utf-8")
    return path
