"""Runs one browser call and prints the page's report as one JSON line on stdout.

Meant to run inside a network namespace with only `lo` (see test_webrtc_chromium.py): the
reference endpoint and a small page server on 127.0.0.1 (port 0), then headless Chromium on
the page, which gets an ephemeral key from the page server's /token (as an app's backend would),
makes the call and POSTs its report to /report. Every step is bounded by `--timeout`.

    python -m tests.integration.webrtc_page.driver --chromium /usr/bin/chromium \\
        --wav speech.wav --profile /tmp/profile [--timeout 60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.refserver import RefServer, RefServerConfig, ReplyRule

PAGE = Path(__file__).with_name("page.html")
REPLY = "Thanks, I heard you loud and clear."


def chromium_args(chromium: str, wav: str, profile: str, url: str) -> list[str]:
    return [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        f"--user-data-dir={profile}", "--allow-loopback-in-peer-connection",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}", "--autoplay-policy=no-user-gesture-required",
        url,
    ]


def page_app(api: str, done: asyncio.Future[dict[str, Any]]) -> web.Application:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE.read_text(encoding="utf-8"), content_type="text/html")

    async def token(request: web.Request) -> web.Response:
        body = {"session": {"type": "realtime"}, "expires_after": {"anchor": "created_at", "seconds": 60}}
        async with aiohttp.ClientSession() as http, http.post(
                f"{api}/v1/realtime/client_secrets", json=body,
                headers={"Authorization": "Bearer sk-test"}) as r:
            return web.json_response(await r.json(), status=r.status)

    async def report(request: web.Request) -> web.Response:
        if not done.done():
            done.set_result(json.loads(await request.text()))
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/token", token)
    app.router.add_post("/report", report)
    return app


async def run(args: argparse.Namespace) -> dict[str, Any]:
    server = RefServer(RefServerConfig(replies=(ReplyRule(".*", REPLY),)))
    await server.start()
    api = server.base_url
    done: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    runner = web.AppRunner(page_app(api, done), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/?api={api}"
    browser = await asyncio.create_subprocess_exec(
        *chromium_args(args.chromium, args.wav, args.profile, url),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        return await asyncio.wait_for(done, args.timeout)
    except TimeoutError:
        return {"error": f"no report from the page within {args.timeout} s"}
    finally:
        await stop(browser)
        await runner.cleanup()
        await server.stop()


async def stop(browser: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        browser.terminate()
    try:
        await asyncio.wait_for(browser.wait(), 5)
    except TimeoutError:
        browser.kill()
        await browser.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--wav", required=True)
    parser.add_argument("--profile", required=True)
    parser.add_argument("--timeout", type=float, default=60.0)
    print(json.dumps(asyncio.run(run(parser.parse_args()))), flush=True)


if __name__ == "__main__":
    main()
