"""A response of the reference endpoint whose pipeline fails still ends: an `error` event, then
`response.done` with status `failed` (a cold cache once killed a response task silently and its
turn hung until the client's 30 s timeout)."""

from __future__ import annotations

import pytest

from bench.refserver import response
from bench.refserver.config import RefServerConfig
from bench.refserver.conversation import Conversation
from bench.refserver.protocol import JSON
from bench.refserver.response import ResponsePlan, ResponseRun
from bench.refserver.settings import Dialect, SessionSettings


async def _events(monkeypatch: pytest.MonkeyPatch, failure: BaseException | None) -> list[JSON]:
    async def broken_speak(*args: object, **kw: object) -> object:
        assert failure is not None
        raise failure

    if failure is not None:
        monkeypatch.setattr(response, "speak", broken_speak)
    sent: list[JSON] = []

    async def emit(event: JSON) -> None:
        sent.append(event)

    async def words() -> str:
        return "hello there"

    plan = ResponsePlan("resp_1", "item_1", SessionSettings(model="m", voice="alloy"), first_delay_s=0)
    run = ResponseRun(plan, config=RefServerConfig(pace=0), dialect=Dialect.GA,
                      conversation=Conversation("conv_1"), emit=emit, user_words=words)
    await run.run()
    return sent


@pytest.mark.parametrize("failure", [FileNotFoundError(2, "No such file or directory"),
                                     RuntimeError("a bug")])
async def test_a_failing_pipeline_ends_the_response_as_failed(monkeypatch: pytest.MonkeyPatch,
                                                              failure: BaseException) -> None:
    sent = await _events(monkeypatch, failure)
    kinds = [e["type"] for e in sent]
    assert kinds[0] == "response.created" and kinds[-2:] == ["error", "response.done"]
    done = sent[-1]["response"]
    assert done["status"] == "failed" and done["status_details"]["error"]["type"] == "server_error"


async def test_a_working_pipeline_completes(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = await _events(monkeypatch, None)
    assert "error" not in [e["type"] for e in sent]
    assert sent[-1]["type"] == "response.done" and sent[-1]["response"]["status"] == "completed"
