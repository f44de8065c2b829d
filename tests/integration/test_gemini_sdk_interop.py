"""The official `google-genai` SDK's Live client, unchanged, against the reference endpoint's
Gemini Live face over TLS (the SDK only speaks wss once it has an API key): only the base URL
and the trust of the generated certificate are pointed at the server."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import pytest
from google import genai
from google.genai import errors, types

from bench.refserver import RefServer, ReplyRule
from bench.refserver.gemini import STREAM_END_EXTRA_MS
from bench.refserver.tls import client_context
from tests.integration.test_refserver_wire import FAST, speech

pytestmark = [pytest.mark.interop, pytest.mark.integration]

REPLY = "I heard you loud and clear."
KEY = "gemini-test-key"
MODEL = "gemini-2.5-flash-native-audio-preview-09-2025"


@pytest.fixture
async def server() -> AsyncIterator[RefServer]:
    server = RefServer(replace(FAST, tls=True, api_key=KEY, replies=(ReplyRule("hello", REPLY),)))
    await server.start()
    yield server
    await server.stop()


def client(server: RefServer, key: str = KEY) -> genai.Client:
    """An SDK client whose base URL is the server and whose TLS trusts its certificate."""
    assert server.ca_path is not None
    return genai.Client(api_key=key, http_options=types.HttpOptions(
        base_url=server.base_url, async_client_args={"ssl": client_context(server.ca_path)}))


@dataclass
class Turn:
    """What `session.receive()` gave for one turn, as the SDK parsed it."""

    audio: bytes = b""
    text: str = ""
    heard: str = ""
    said: str = ""
    flags: list[str] = field(default_factory=list)
    usage: types.UsageMetadata | None = None

    def tokens(self, details: list[types.ModalityTokenCount] | None) -> dict[str, int]:
        return {str(d.modality.value if d.modality else None): d.token_count or 0
                for d in details or []}


async def receive_turn(session: genai.live.AsyncSession) -> Turn:
    turn = Turn()
    async for message in session.receive():
        content = message.server_content
        if content is None:
            continue
        for part in content.model_turn.parts or [] if content.model_turn else []:
            if part.inline_data is not None:
                assert part.inline_data.mime_type == "audio/pcm;rate=24000"
                turn.audio += part.inline_data.data or b""
            turn.text += part.text or ""
        turn.heard += content.input_transcription.text or "" if content.input_transcription else ""
        turn.said += content.output_transcription.text or "" if content.output_transcription else ""
        turn.flags += [f for f in ("generation_complete", "interrupted", "turn_complete")
                       if getattr(content, f)]
        if message.usage_metadata is not None:
            turn.usage = message.usage_metadata
    return turn


async def test_sdk_audio_turn(server: RefServer) -> None:
    """16 kHz speech with automatic activity detection, ended by `audio_stream_end`: audio,
    both transcriptions and usage per modality come back."""
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        speech_config=types.SpeechConfig(voice_config=types.VoiceConfig(
            prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name="Puck"))),
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig())
    pcm = speech("Hello there.", rate=16_000).pcm16()
    async with client(server).aio.live.connect(model=MODEL, config=config) as session:
        for i in range(0, len(pcm), 3200):  # 100 ms chunks
            await session.send_realtime_input(
                audio=types.Blob(data=pcm[i:i + 3200], mime_type="audio/pcm;rate=16000"))
        await session.send_realtime_input(audio_stream_end=True)
        turn = await receive_turn(session)
    assert turn.flags == ["generation_complete", "turn_complete"]
    assert "hello" in turn.heard.lower()
    assert turn.said.strip() == REPLY
    assert len(turn.audio) > 48_000 // 2  # over half a second of 24 kHz PCM16
    assert turn.usage is not None
    assert turn.tokens(turn.usage.response_tokens_details) == {
        "TEXT": math.ceil(len(REPLY) / 4), "AUDIO": round(20 * len(turn.audio) / 48_000)}
    prompt = turn.tokens(turn.usage.prompt_tokens_details)
    flushed_s = (500 + STREAM_END_EXTRA_MS) / 1000  # audio_stream_end: the VAD's silence
    assert 0 < prompt["AUDIO"] <= round(10 * (len(pcm) / 32_000 + flushed_s))
    assert turn.usage.total_token_count == (turn.usage.prompt_token_count or 0) + (
        turn.usage.response_token_count or 0)


async def test_sdk_text_turns(server: RefServer) -> None:
    """Text turns by `send_client_content`, answered in text; the second reads the first."""
    config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT],
                                     system_instruction="Be brief.")
    async with client(server).aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text="say exactly Nice to meet you.")]),
            turn_complete=True)
        first = await receive_turn(session)
        await session.send_client_content(turns={"parts": [{"text": "hello again"}]})
        second = await receive_turn(session)
    assert first.text == "Nice to meet you." and first.audio == b""
    assert first.flags == ["generation_complete", "turn_complete"]
    assert first.usage is not None
    assert first.tokens(first.usage.response_tokens_details) == {"TEXT": math.ceil(17 / 4)}
    assert set(first.tokens(first.usage.prompt_tokens_details)) == {"TEXT"}
    assert second.text == REPLY
    assert second.usage is not None and first.usage.prompt_token_count is not None
    assert (second.usage.prompt_token_count or 0) > first.usage.prompt_token_count


async def test_sdk_manual_activity(server: RefServer) -> None:
    """Automatic activity detection off: the client's `activity_start`/`activity_end` bound
    the turn, with no silence after the speech."""
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        realtime_input_config=types.RealtimeInputConfig(
            automatic_activity_detection=types.AutomaticActivityDetection(disabled=True)),
        output_audio_transcription=types.AudioTranscriptionConfig())
    pcm = speech("Hello there.", rate=16_000, lead_s=0.0).pcm16()
    async with client(server).aio.live.connect(model=MODEL, config=config) as session:
        await session.send_realtime_input(activity_start=types.ActivityStart())
        await session.send_realtime_input(
            audio=types.Blob(data=pcm, mime_type="audio/pcm;rate=16000"))
        await session.send_realtime_input(activity_end=types.ActivityEnd())
        turn = await receive_turn(session)
    assert turn.said.strip() == REPLY and len(turn.audio) > 48_000 // 2
    assert turn.heard == ""  # input transcription was not asked for


async def test_sdk_wrong_key_is_refused(server: RefServer) -> None:
    with pytest.raises(Exception) as caught:
        async with client(server, key="wrong").aio.live.connect(model=MODEL):
            pass
    assert "401" in str(caught.value)
    assert not isinstance(caught.value, errors.APIError) or caught.value.code == 401


@pytest.mark.filterwarnings("ignore::google.genai.errors.ExperimentalWarning")
@pytest.mark.filterwarnings(  # google-genai's REST client subclasses aiohttp's ClientSession
    "ignore:Inheritance class AiohttpClientSession from ClientSession:DeprecationWarning")
async def test_sdk_mints_an_ephemeral_token_and_connects_with_it(server: RefServer) -> None:
    """`auth_tokens.create` (v1alpha) at the server, then `live.connect` with the token as the
    key: the SDK itself picks `BidiGenerateContentConstrained` and `Authorization: Token`. The
    token's locked setup (text output) overrides what the client asks for; its one use is spent."""
    v1alpha = types.HttpOptions(api_version="v1alpha", base_url=server.base_url,
                                async_client_args={"ssl": client_context(server.ca_path or "")})
    token = await genai.Client(api_key=KEY, http_options=v1alpha).aio.auth_tokens.create(
        config=types.CreateAuthTokenConfig(uses=1, live_connect_constraints=(
            types.LiveConnectConstraints(model=MODEL, config=types.LiveConnectConfig(
                response_modalities=[types.Modality.TEXT])))))
    assert token.name is not None and token.name.startswith("auth_tokens/")
    with_token = genai.Client(api_key=token.name, http_options=v1alpha)
    asked = types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO])
    async with with_token.aio.live.connect(model=MODEL, config=asked) as session:
        await session.send_client_content(turns={"parts": [{"text": "hello"}]})
        turn = await receive_turn(session)
    assert turn.text == REPLY and turn.audio == b""  # the token's TEXT, not the client's AUDIO
    with pytest.raises(Exception) as caught:
        async with with_token.aio.live.connect(model=MODEL):
            pass
    assert "401" in str(caught.value)
