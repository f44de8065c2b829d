"""Gate a candidate run against a baseline run with a policy; the exit code is the verdict.

A rule fails only when the change in the bad direction is both beyond its threshold and
significant (Mann-Whitney U p < alpha; for percentile and pooled statistics the bootstrap CI of
the difference must also exclude 0). Exit 0: pass; 1: regression; 2: undecidable (too few
samples, a metric missing, a run that failed) or a user error.
"""

from __future__ import annotations

import argparse
import xml.etree.ElementTree as ET
from pathlib import Path

from rich import box
from rich.table import Table
from rich.text import Text

from bench.analysis.gate import GateResult, RuleResult, Verdict, gate_data, gate_runs
from bench.analysis.policy import default_policy, load_policy
from bench.common.formats import Formats, Rendered, dump_json, emit, num, pvalue, signed

NAME = "gate"
HELP = "pass/fail a candidate run against a baseline run (exit 0 pass, 1 regression, 2 undecidable)"

MARKS = {Verdict.PASS: "✅ pass", Verdict.REGRESSION: "❌ regression",
         Verdict.UNDECIDABLE: "⚠️ undecidable", Verdict.SKIPPED: "➖ skipped"}
COLOURS = {Verdict.PASS: "green", Verdict.REGRESSION: "bold red", Verdict.UNDECIDABLE: "yellow",
           Verdict.SKIPPED: "dim"}
ALIGN = ["---"] * 2 + ["---:"] * 5 + ["---"]
HEADERS = ["rule", "threshold", "baseline", "candidate", "Δ", "95% CI of Δ", "p", "verdict"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--baseline", "-b", required=True, type=Path, metavar="RUN_DIR",
                        help="the baseline run directory")
    parser.add_argument("--candidate", "-c", required=True, type=Path, metavar="RUN_DIR",
                        help="the candidate run directory")
    parser.add_argument("--policy", "-p", type=Path, metavar="FILE",
                        help="gate policy YAML (default: ./ci/gate.yaml, else the built-in copy of it)")
    parser.add_argument("--format", "-f", default="table", choices=FORMATS.names, help="output format")
    parser.add_argument("--out", "-o", type=Path, metavar="FILE", help="write to FILE instead of stdout")


def _value(stat: str, x: float) -> str:
    return f"{x:.1%}" if stat == "rate" else f"{stat} {num(x)}"


def _diff(stat: str, x: float) -> str:
    return f"{x * 100:+.1f} points" if stat == "rate" else signed(x)


def _cells(r: RuleResult) -> list[str]:
    c = r.change
    if c is None:
        return [r.rule, r.threshold, "—", "—", "—", "—", "—"]
    ci = f"[{_diff(c.stat, c.diff_ci.low)}, {_diff(c.stat, c.diff_ci.high)}]"
    return [r.rule, r.threshold, _value(c.stat, c.a), _value(c.stat, c.b), _diff(c.stat, c.diff), ci,
            pvalue(c.p_value)]


def _groups(g: GateResult) -> dict[str, list[RuleResult]]:
    out: dict[str, list[RuleResult]] = {}
    for r in g.results:
        out.setdefault(r.group, []).append(r)
    return out


def _notes(g: GateResult) -> list[str]:
    """Why each rule that neither passed nor was skipped decided as it did, then the warnings
    (noise, and a rule skipped because neither run has its metric)."""
    why = [f"{r.group} · {r.rule}: {r.verdict.value}: {r.reason}" for r in g.results
           if r.verdict in (Verdict.REGRESSION, Verdict.UNDECIDABLE)]
    return why + [f"warning: {r.group} · {r.rule}: {w}" for r in g.results for w in r.warnings]


def _terminal_cells(r: RuleResult) -> list[Text | str]:
    """Rule (threshold under it), baseline, candidate, Δ (CI under it), p: fits 80 columns."""
    rule = Text(r.rule, no_wrap=True)
    rule.append(f"\nlimit {r.threshold}", style="dim")
    c = r.change
    if c is None:
        return [rule, "—", "—", "—", "—"]
    delta = f"{_diff(c.stat, c.diff)}\n[{_diff(c.stat, c.diff_ci.low)}, {_diff(c.stat, c.diff_ci.high)}]"
    a, b = (f"{x:.1%}" if c.stat == "rate" else num(x) for x in (c.a, c.b))
    return [rule, a, b, delta, pvalue(c.p_value)]


def _group_table(group: str, results: list[RuleResult]) -> Table:
    table = Table(title=group, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("rule", no_wrap=True)
    for h in ("baseline", "candidate", "Δ [95% CI]", "p"):
        table.add_column(h, justify="right", overflow="fold")
    table.add_column("verdict", no_wrap=True)
    for r in results:
        table.add_row(*_terminal_cells(r), Text(r.verdict.value, style=COLOURS[r.verdict]))
    return table


def render_table(g: GateResult) -> Rendered:
    from rich.console import Group

    parts: list[Table | Text] = [Text(f"gate: {g.outcome.upper()} · baseline {g.baseline} · candidate "
                                      f"{g.candidate} · policy {g.policy} · α = {g.alpha}", style="bold")]
    parts += [_group_table(group, results) for group, results in _groups(g).items()]
    parts += [Text(n, style="yellow" if n.startswith("warning") else "") for n in _notes(g)]
    return Group(*parts)


def render_markdown(g: GateResult) -> str:
    """For a pull-request comment."""
    head = {"pass": "✅ pass", "regression": "❌ regression", "undecidable": "⚠️ undecidable"}[g.outcome]
    lines = [f"## rtbench gate: {head}", "",
             f"Baseline `{g.baseline}` · candidate `{g.candidate}` · policy `{g.policy}` · α = {g.alpha}", ""]
    for group, results in _groups(g).items():
        lines += [f"### {group}", "", "| " + " | ".join(HEADERS) + " |", "|" + "|".join(ALIGN) + "|"]
        lines += ["| " + " | ".join([*_cells(r), MARKS[r.verdict]]) + " |" for r in results]
        lines.append("")
    lines += ["<details><summary>Why</summary>", ""]
    lines += [f"- **{r.group} · {r.rule}**: {r.reason}" for r in g.results]
    lines += ["", "</details>", ""]
    lines += [f"> ⚠️ {r.group} · {r.rule}: {w}  " for r in g.results for w in r.warnings]
    return "\n".join(lines).rstrip() + "\n"


def _testcase(suite: ET.Element, r: RuleResult) -> None:
    case = ET.SubElement(suite, "testcase", classname="rtbench.gate." + r.group.replace("/", "."),
                         name=r.rule, time="0")
    if r.verdict is Verdict.REGRESSION:
        ET.SubElement(case, "failure", message=r.reason, type="regression").text = r.reason
    elif r.verdict is Verdict.UNDECIDABLE:
        ET.SubElement(case, "error", message=r.reason, type="undecidable").text = r.reason
    elif r.verdict is Verdict.SKIPPED:
        ET.SubElement(case, "skipped", message=r.reason)
    if r.warnings:
        ET.SubElement(case, "system-out").text = "\n".join(r.warnings)


def render_junit(g: GateResult) -> str:
    """JUnit XML: one testcase per rule and group; regressions fail, undecidable rules error."""
    count = {v: sum(r.verdict is v for r in g.results) for v in Verdict}
    attrs = {"tests": str(len(g.results)), "failures": str(count[Verdict.REGRESSION]),
             "errors": str(count[Verdict.UNDECIDABLE]), "skipped": str(count[Verdict.SKIPPED])}
    root = ET.Element("testsuites", {"name": "rtbench gate", **attrs})
    suite = ET.SubElement(root, "testsuite", {"name": f"gate {g.baseline} -> {g.candidate}", **attrs})
    for r in g.results:
        _testcase(suite, r)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render_json(g: GateResult) -> str:
    return dump_json(gate_data(g))


FORMATS: Formats[GateResult] = Formats(
    "gate", {"table": render_table, "markdown": render_markdown, "junit": render_junit, "json": render_json})
"""Output formats of `rtbench gate`."""


def shown(path: Path) -> str:
    """A path relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def run(args: argparse.Namespace) -> int:
    path = args.policy or default_policy()
    result = gate_runs(load_policy(path), args.baseline, args.candidate, shown(path))
    emit(FORMATS.get(args.format)(result), args.out)
    return result.exit_code
