"""A minimal fast OpenAI Realtime (GA) endpoint for `capacity.py`: it must never be the limit.

A bare asyncio protocol speaking just enough WebSocket (RFC 6455: the upgrade, unfragmented
masked client frames, unmasked server frames, ping and close) and just enough of the protocol:
it greets (`session.created`), acknowledges `session.update`, counts `input_audio_buffer.append`
events after unmasking only their first bytes (no JSON, no base64), and answers
`response.create` at once with `response.created`, a few pre-encoded audio deltas and
`response.done`. No VAD, no ASR, no TTS. (A `websockets` server spent ~130 µs of CPU per append
here: about 150 sessions per core, less than the harness it was to measure.)
Prints `READY <port>` and serves until stdin closes; `--core N` pins it to one CPU.

    .venv/bin/python benchmarks/capacity_endpoint.py [--port 0] [--core 0] [--deltas 5]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import itertools
import json
import os
import struct
import sys
from typing import Any

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
APPEND_PREFIX = b'{"type":"input_audio_buffer.append"'
_ids = itertools.count()


def _unmask(data: bytes, mask: bytes) -> bytes:
    n = len(data)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(data, "big") ^ key).to_bytes(n, "big")


def _frame(payload: bytes, opcode: int = 1) -> bytes:
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def _event(kind: str, **fields: Any) -> bytes:
    body = {"type": kind, "event_id": f"event_{next(_ids)}", **fields}
    return _frame(json.dumps(body, separators=(",", ":")).encode())


def _session() -> dict[str, Any]:
    fmt = {"type": "audio/pcm", "rate": 24000}
    return {"type": "realtime", "id": "sess_cap", "object": "realtime.session", "model": "cap",
            "output_modalities": ["audio"],
            "audio": {"input": {"format": fmt, "turn_detection": None}, "output": {"format": fmt}}}


class Counts:
    appends = 0
    responses = 0


class Connection(asyncio.Protocol):
    """One client: the upgrade, then frames."""

    def __init__(self, counts: Counts, deltas: int, delta_audio: str) -> None:
        self.counts, self.deltas, self.delta_audio = counts, deltas, delta_audio
        self.buf = bytearray()
        self.open = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.open and not self._upgrade():
            return
        while self._one_frame():
            pass

    def _upgrade(self) -> bool:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head, self.buf = bytes(self.buf[:end]).decode("latin-1"), self.buf[end + 4:]
        key = next((line.split(":", 1)[1].strip() for line in head.split("\r\n")
                    if line.lower().startswith("sec-websocket-key:")), "")
        accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        assert self.transport is not None
        self.transport.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                              f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n").encode())
        self.transport.write(_event("session.created", session=_session()))
        self.open = True
        return True

    def _one_frame(self) -> bool:
        """Handle the first complete frame of the buffer; False when there is none."""
        buf = self.buf
        if len(buf) < 2:
            return False
        opcode, n, at = buf[0] & 0x0F, buf[1] & 0x7F, 2
        if n == 126:
            if len(buf) < 4:
                return False
            n, at = struct.unpack_from("!H", buf, 2)[0], 4
        elif n == 127:
            if len(buf) < 10:
                return False
            n, at = struct.unpack_from("!Q", buf, 2)[0], 10
        if len(buf) < at + 4 + n:
            return False
        mask, payload = bytes(buf[at:at + 4]), bytes(buf[at + 4:at + 4 + n])
        del buf[:at + 4 + n]
        self._handle(opcode, mask, payload)
        return True

    def _handle(self, opcode: int, mask: bytes, payload: bytes) -> None:
        assert self.transport is not None
        if opcode == 1 and _unmask(payload[:len(APPEND_PREFIX)], mask) == APPEND_PREFIX:
            self.counts.appends += 1
        elif opcode == 1:
            self._event(json.loads(_unmask(payload, mask)).get("type"))
        elif opcode == 9:
            self.transport.write(_frame(_unmask(payload, mask), 10))
        elif opcode == 8:
            self.transport.write(_frame(_unmask(payload, mask)[:2], 8))
            self.transport.close()

    def _event(self, kind: str) -> None:
        assert self.transport is not None
        write = self.transport.write
        if kind == "session.update":
            write(_event("session.updated", session=_session()))
        elif kind == "input_audio_buffer.commit":
            write(_event("input_audio_buffer.committed", item_id="item_cap"))
        elif kind == "response.create":
            self.counts.responses += 1
            rid = f"resp_{self.counts.responses}"
            write(_event("response.created", response={"id": rid, "status": "in_progress"}))
            for _ in range(self.deltas):
                write(_event("response.output_audio.delta", response_id=rid, item_id="item_out",
                             output_index=0, content_index=0, delta=self.delta_audio))
            write(_event("response.done", response={"id": rid, "status": "completed", "output": [],
                                                    "usage": None}))


async def _main(port: int, deltas: int) -> None:
    counts, audio = Counts(), base64.b64encode(bytes(4800)).decode("ascii")  # 100 ms of silence
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(counts, deltas, audio), "127.0.0.1", port,
                                      backlog=1024)
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    done = asyncio.Event()
    loop.add_reader(sys.stdin.fileno(), done.set)  # the parent is gone, or asked us to stop
    await done.wait()
    server.close()
    print(json.dumps({"appends": counts.appends, "responses": counts.responses}), flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--core", type=int, help="pin to this CPU")
    p.add_argument("--deltas", type=int, default=5, help="100 ms audio deltas per response")
    args = p.parse_args()
    if args.core is not None:
        os.sched_setaffinity(0, {args.core})
    asyncio.run(_main(args.port, args.deltas))
    return 0


if __name__ == "__main__":
    sys.exit(main())
