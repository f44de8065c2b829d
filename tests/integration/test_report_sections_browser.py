"""A report with every data-dependent section (providers side by side, load curves, barge-in, tool
calls, voices and speed, image and greeting turns) in a real headless Chromium: each section and
its plot is there, nothing errs in the console, nothing is fetched. The page is screenshotted to
$RTBENCH_SECTIONS_SCREENSHOT (default /tmp/rtbench-report-sections.png) for a look."""

from __future__ import annotations

import base64
import os
from dataclasses import replace
from pathlib import Path

import pytest

from bench.report.html import write_report
from bench.results.columns import table_of
from bench.results.records import TurnRecord
from tests.integration.test_report_browser import browser, needs_chromium, open_page, problems
from tests.unit.test_report import rec
from tests.unit.test_report_sections import _barge, _load_run, _providers

pytestmark = pytest.mark.integration

SCREENSHOT = Path(os.environ.get("RTBENCH_SECTIONS_SCREENSHOT", "/tmp/rtbench-report-sections.png"))
IDS = ("providers", "load", "barge-in", "tools", "speech-rate", "image")


def every_section() -> tuple[list[TurnRecord], dict[str, object]]:
    records, load = _load_run()
    records = [replace(r, target="openai", variant="openai-model", call_id=f"c{k:05d}") for k, r in
               enumerate(sorted(records, key=lambda r: r.call_id))]
    base = len(records)
    more = _providers(12) + _barge(10, 8, "openai") + _barge(10, 5, "gemini")
    more += [rec(0, {"v2v_ms": 700.0, "tool_call_ms": 200.0 + k, "tool_result_to_audio_ms": 300.0 + k,
                     "tool_call_ok": float(k % 4 != 0), "answer_ok": 1.0}, target="openai") for k in range(8)]
    more += [rec(0, {"ttfb_ms": 300.0, "speech_rate_wpm": 200.0 * s + k}, mode="text", output_voice=v,
                 speed=s, target="openai")
             for v in ("ash", "coral") for s in (0.5, 1.0, 1.5) for k in range(3)]
    more += [rec(0, {"ttft_ms": 900.0 + k, "ttfb_ms": 950.0 + k}, mode="image", target="openai")
             for k in range(4)]
    more += [rec(0, {"greeting_ms": 1500.0 + k}, mode="greeting", target="gemini") for k in range(4)]
    # the load steps count calls c00000…: the other turns come after them
    records += [replace(r, call_id=f"c{base + k:05d}") for k, r in enumerate(more)]
    load["steps"][-1]["calls"] += len(more)  # type: ignore[index]
    return records, load


@needs_chromium
async def test_every_section_in_chromium(tmp_path: Path) -> None:
    from bench.analysis.summary import summarize

    records, load = every_section()
    table = table_of(records)
    path = write_report(tmp_path, {"scenario": {"name": "sections"}},
                        summarize(table, "r", "sections", {"load": load}), table)
    url = path.resolve().as_uri()
    async with browser(tmp_path) as cdp:
        session = await open_page(cdp, url)
        facts = await cdp.evaluate(session, f"""({{
            ids: {list(IDS)}.filter(id => document.getElementById(id) !== null),
            curves: document.querySelector("#load ~ figure svg") !== null,
            figures: document.querySelectorAll("figure svg").length,
            nav: Array.from(document.querySelectorAll("nav a")).map(a => a.getAttribute("href")) }})""")
        assert facts["ids"] == list(IDS) and facts["curves"]
        assert all(f"#{i}" in facts["nav"] for i in IDS)
        assert facts["figures"] >= 7  # 4 latency, load curves, stop_ms, speech rate (+ transports)
        shot = await cdp.call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True)
        SCREENSHOT.write_bytes(base64.b64decode(shot["data"]))
        assert problems(cdp.events, url) == ([], [])
