"""report.html (and the compare page) in a real headless Chromium, driven over the Chrome DevTools
Protocol: no console errors, no network requests, plots and tables present, sorting works on a
real mouse click, and endpoint text with markup in it is shown as text and never run.

The run is real: the integration tests' tiny scenario (3 turns) against the built-in reference
endpoint. Then a record is
rewritten as a hostile endpoint would have it (a transcript and an error message with
`<script>`/`<img onerror>` in them) and the report rebuilt with `rtbench report`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import websockets

from bench.cli.main import main as rtbench
from tests.integration.conftest import SCENARIO

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--remote-debugging-port=0", "--remote-allow-origins=*"]
SCREENSHOT = Path(os.environ.get("RTBENCH_REPORT_SCREENSHOT", "/tmp/rtbench-report.png"))
SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src="x" onerror="window.__pwned=2">'

needs_chromium = pytest.mark.skipif(
    not os.path.isfile(CHROMIUM), reason=f"Chromium not installed at {CHROMIUM} (apt-get install chromium)")


class Cdp:
    """A minimal DevTools Protocol client over one browser WebSocket (flattened sessions)."""

    def __init__(self, ws: Any) -> None:
        self.ws, self.next_id, self.events = ws, 0, []  # type: ignore[var-annotated]

    async def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        await self.ws.send(json.dumps(msg))
        while True:
            data = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
            if data.get("id") == self.next_id:
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error']}")
                return dict(data.get("result", {}))
            self.events.append(data)

    async def wait_event(self, method: str, timeout: float = 30) -> dict[str, Any]:
        async def next_match() -> dict[str, Any]:
            while True:
                for i, e in enumerate(self.events):
                    if e.get("method") == method:
                        return dict(self.events.pop(i))
                self.events.append(json.loads(await self.ws.recv()))

        return await asyncio.wait_for(next_match(), timeout)

    async def evaluate(self, session: str, expression: str) -> Any:
        out = await self.call("Runtime.evaluate", session, expression=expression, returnByValue=True)
        if "exceptionDetails" in out:
            raise RuntimeError(f"{expression}: {out['exceptionDetails']}")
        return out["result"].get("value")


@asynccontextmanager
async def browser(tmp: Path) -> AsyncIterator[Cdp]:
    profile = tmp / "chromium-profile"
    profile.mkdir()
    proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.is_file() and len(port_file.read_text().splitlines()) >= 2:
                break
            await asyncio.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        async with websockets.connect(f"ws://127.0.0.1:{port}{path}", max_size=2**28) as ws:
            yield Cdp(ws)
    finally:
        proc.terminate()
        proc.wait(10)


async def open_page(cdp: Cdp, url: str) -> str:
    target = await cdp.call("Target.createTarget", url="about:blank")
    attached = await cdp.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)
    session = attached["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        await cdp.call(f"{domain}.enable", session)
    await cdp.call("Emulation.setDeviceMetricsOverride", session, width=1280, height=900,
                   deviceScaleFactor=1, mobile=False)
    await cdp.call("Page.navigate", session, url=url)
    await cdp.wait_event("Page.loadEventFired")
    await asyncio.sleep(0.3)  # late console messages
    return str(session)


def problems(events: list[dict[str, Any]], url: str) -> tuple[list[str], list[str]]:
    """(console errors and exceptions, network requests other than the page and data: URIs)."""
    errors, requests = [], []
    for e in events:
        p, m = e.get("params", {}), e.get("method")
        if m == "Runtime.exceptionThrown" or (m == "Runtime.consoleAPICalled" and p.get("type") == "error"):
            errors.append(json.dumps(p)[:400])
        elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
            errors.append(p["entry"].get("text", ""))
        elif m == "Network.requestWillBeSent":
            req = p["request"]["url"]
            if req != url and not req.startswith("data:"):
                requests.append(req)
    return errors, requests


async def click(cdp: Cdp, session: str, selector: str) -> None:
    """A real mouse click in the middle of the element."""
    box = await cdp.evaluate(session, f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
        e.scrollIntoView({{block: "center"}}); const r = e.getBoundingClientRect();
        return [r.x + r.width / 2, r.y + r.height / 2]; }})()""")
    for kind in ("mousePressed", "mouseReleased"):
        await cdp.call("Input.dispatchMouseEvent", session, type=kind, x=box[0], y=box[1], button="left",
                       clickCount=1)


V2V = '#turns-table th[data-col="v2v_ms"]'


def column(header: str) -> str:
    """JS: the numbers (data-v) of the column under a header, top to bottom."""
    return f"""(() => {{ const n = document.querySelector({json.dumps(header)}).cellIndex;
        return Array.from(document.querySelectorAll("#turns-table tbody tr"))
            .map(r => r.cells[n].getAttribute("data-v")).filter(v => v !== "").map(Number); }})()"""


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    tmp = tmp_path_factory.mktemp("report-browser")
    scenario = tmp / "scenario.yaml"
    text = SCENARIO.format(td="server_vad", fmt="pcm16", repeats=3, warmup=0, pace="burst", turns="")
    scenario.write_text(text)
    out = tmp / "run"
    assert rtbench(["run", str(scenario), "--out", str(out)]) == 0
    lines = (out / "calls.jsonl").read_text().splitlines()
    first, second = json.loads(lines[0]), json.loads(lines[1])
    first["output_transcript"], first["input_transcript"] = SCRIPT, IMG
    second.update(ok=False, error={"cause": "error:<b>bad</b>", "message": f"server said {SCRIPT}"})
    lines[:2] = [json.dumps(first), json.dumps(second)]
    (out / "calls.jsonl").write_text("\n".join(lines) + "\n")
    assert rtbench(["report", str(out)]) == 0
    yield out


@needs_chromium
async def test_report_in_chromium(hostile_run: Path, tmp_path: Path) -> None:
    page = hostile_run / "report.html"
    url = page.resolve().as_uri()
    async with browser(tmp_path) as cdp:
        session = await open_page(cdp, url)
        facts = await cdp.evaluate(session, """({
            svgs: document.querySelectorAll("figure svg").length,
            tables: document.querySelectorAll("table").length,
            sortable: document.querySelectorAll("table.sortable").length,
            pwned: typeof window.__pwned, scripts: document.scripts.length,
            text: document.body.innerText, imgs: document.images.length,
            audio: Array.from(document.querySelectorAll("audio")).map(a => a.src.slice(0, 22)) })""")
        assert facts["svgs"] >= 4 and facts["tables"] >= 5 and facts["sortable"] >= 3
        assert facts["pwned"] == "undefined" and facts["scripts"] == 1 and facts["imgs"] == 0
        assert SCRIPT in facts["text"] and IMG in facts["text"] and "server said " + SCRIPT in facts["text"]
        assert facts["audio"] and all(a == "data:audio/wav;base64," for a in facts["audio"])

        before = await cdp.evaluate(session, column(V2V))
        await click(cdp, session, V2V)
        ascending = await cdp.evaluate(session, column(V2V))
        await click(cdp, session, V2V)
        descending = await cdp.evaluate(session, column(V2V))
        assert len(before) >= 2 and ascending == sorted(before) and descending == sorted(before, reverse=True)

        shot = await cdp.call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True)
        SCREENSHOT.write_bytes(base64.b64decode(shot["data"]))
        errors, requests = problems(cdp.events, url)
        assert errors == [] and requests == []


@needs_chromium
async def test_compare_page_in_chromium(hostile_run: Path, tmp_path: Path) -> None:
    page = tmp_path / "compare.html"
    assert rtbench(["compare", str(hostile_run), str(hostile_run), "--html", str(page)]) == 0
    url = page.resolve().as_uri()
    async with browser(tmp_path) as cdp:
        session = await open_page(cdp, url)
        await click(cdp, session, "table.sortable thead th:nth-child(2)")
        facts = await cdp.evaluate(session, """({ tables: document.querySelectorAll("table.sortable").length,
            sorted: document.querySelector("table.sortable thead th[aria-sort]") !== null })""")
        assert facts == {"tables": 1, "sorted": True}
        assert problems(cdp.events, url) == ([], [])
