"""Synthetic speech: scenario sentences spoken by espeak-ng voices (or the optional neural voice
`piper`), cached by content hash; `tts_engine` names the engine that speaks a voice."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

from bench.common.audio import Clip, concat, read_audio, silence, speech_bounds, write_wav
from bench.common.errors import AudioError
from bench.corpus import piper
from bench.corpus.espeak import synthesize
from bench.corpus.utterance import Utterance

ENGINE_TAG = "espeak-ng/espeakng-loader"


def tts_engine(voice: str) -> str:
    """The engine and voice that speak `voice`: `espeak-ng/…` or `piper-tts/en_US-joe-medium`."""
    return piper.ENGINE_TAG if piper.is_piper(voice) else ENGINE_TAG


def cache_dir() -> Path:
    """`$RTBENCH_CACHE`, else `$XDG_CACHE_HOME/realtime-bench`, else `~/.cache/realtime-bench`."""
    env = os.environ.get("RTBENCH_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "realtime-bench"


def _key(text: str, voice: str, rate_wpm: int) -> str:
    blob = json.dumps([tts_engine(voice), text, voice, rate_wpm], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def speak(text: str, voice: str, rate_wpm: int) -> Clip:
    """Speech for `text` in `voice` (espeak-ng, or Piper for `piper`), from the cache when it was
    made before."""
    path = cache_dir() / "tts" / f"{_key(text, voice, rate_wpm)}.wav"
    if path.is_file():
        try:
            return read_audio(path)
        except AudioError:
            path.unlink(missing_ok=True)
    made = piper.synthesize(text, rate_wpm) if piper.is_piper(voice) else synthesize(text, voice, rate_wpm)
    return _store(path, made)


def _store(path: Path, clip: Clip) -> Clip:
    """Put `clip` in the cache at `path` unless another writer got there first; return what the
    cache holds. Every writer has its own temp file (threads of one process speak the same new text
    at once) and the first one wins atomically, so every caller gets the same audio."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{uuid.uuid4().hex}.tmp")
    try:
        write_wav(tmp, clip)
        try:
            os.link(tmp, path)  # atomic, and fails when the file exists
        except FileExistsError:
            return read_audio(path)
        except OSError:  # a file system without hard links
            tmp.replace(path)
        return clip
    finally:
        tmp.unlink(missing_ok=True)


def synthetic_utterance(
    sid: str, text: str, voice: str, rate_wpm: int, lead_ms: int, trail_ms: int
) -> Utterance:
    """The sentence spoken, padded with silence; onset and offset are exact."""
    speech = speak(text, voice, rate_wpm)
    on, off = speech_bounds(speech)
    clip = concat(silence(lead_ms / 1000, speech.rate), speech, silence(trail_ms / 1000, speech.rate))
    lead = lead_ms / 1000
    return Utterance(sid, text, clip, lead + on / speech.rate, lead + off / speech.rate, voice)
