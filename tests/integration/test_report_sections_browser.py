"""A report with every data-dependent section (providers side by side, load curves, barge-in, tool
calls, voices and speed, image and greeting turns) in a real headless Chromium: each section and
its plot is there, nothing errs in the console, nothing is fetched. The page is screenshotted to
$RTBENCH_SECTIONS_SCREENSHOT (default /tmp/rtbench-report-sections.png) for a look."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from bench.report.html import write_report
from bench.results.columns import table_of
from tests.integration.test_report_browser import browser, needs_chromium, open_page, problems
from tests.unit.test_report_sections import every_section

pytestmark = pytest.mark.integration

SCREENSHOT = Path(os.environ.get("RTBENCH_SECTIONS_SCREENSHOT", "/tmp/rtbench-report-sections.png"))
IDS = ("providers", "load", "barge-in", "tools", "speech-rate", "image")


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
