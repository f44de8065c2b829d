"""Speech-to-text backends behind one interface (`Transcriber`), chosen by name.

`make_transcriber("whisper")` (bundled tiny.en, offline, checksum verified; `model=` for another
faster-whisper directory), `make_transcriber("pocketsphinx")`, `make_transcriber("openai-compatible",
base_url=…, model=…, api_key_env=…)`; `TRANSCRIBERS` lists them.
"""

from bench.transcribe.base import Transcriber, Transcript
from bench.transcribe.registry import TRANSCRIBERS, make_transcriber

__all__ = ["TRANSCRIBERS", "Transcriber", "Transcript", "make_transcriber"]
