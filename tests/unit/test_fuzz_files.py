"""Malformed user files and command lines, generated from a seed: every one is either accepted or
refused as the user's mistake (`UserError`, exit 2, one line), never a traceback or a hang.

Files: scenario, targets, gate policy (YAML), run manifest.json and calls.jsonl, mutated by
truncation, byte flips, type swaps, deep nesting, alias bombs, non-UTF-8 and binary bytes. Command
lines: `rtbench` subcommands with edge-case numbers, ports and paths, through `main()` in-process
(and two through a subprocess). The counts (files tried, tracebacks, hangs) are printed for the
record (`pytest -s tests/unit/test_fuzz_files.py`)."""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import yaml

from bench.analysis.policy import load_policy
from bench.cli.main import main as rtbench
from bench.common.errors import UserError
from bench.measure.dialects import auth_catalog
from bench.plan.scenario import load_scenario
from bench.plan.targets import load_targets_file
from bench.report.status import run_status
from bench.results.columns import read_table
from bench.results.manifest import read_manifest
from bench.results.store import CALLS, MANIFEST, load_records

SEED = 14
BOUND_S = 10
"""A case still running after this long is a hang (SIGALRM ends it)."""
RUNS = Path(__file__).resolve().parents[1] / "golden" / "runs"

SCENARIO = """\
name: fuzz
description: a scenario to break
targets: [reference]
transport: [websocket]
session: {voice: alloy, turn_detection: {type: server_vad, threshold: 0.5}}
corpus:
  synthetic:
    voices: [en-us]
    sentences:
      - {id: a, text: Hello there.}
      - {id: b, text: Good morning.}
repeats: 2
concurrency: 1
turn_timeout_s: 15
"""
TARGETS = """\
targets:
  local:
    url: ws://127.0.0.1:8765/v1/realtime
    dialect: openai-ga
    model: gpt-realtime
    api_key_env: LOCAL_KEY
"""
POLICY = """\
schema_version: 1
alpha: 0.01
min_samples: 10
rules:
  - {metric: v2v_ms, stat: p95, relative: 0.10}
  - {metric: pesq_wb, stat: mean, absolute: 0.2, direction: higher, optional: true}
error_rate: {absolute: 0.02}
"""
TEXT_SCENARIO = "name: cli\nturns: [{text: hello}]\nrepeats: 1\n"
"""A scenario with no audio (nothing to synthesize), for command lines."""


class Hang(Exception):
    """A case ran past BOUND_S."""


@contextlib.contextmanager
def bounded(seconds: int = BOUND_S) -> Iterator[None]:
    def alarm(_sig: int, _frame: FrameType | None) -> None:
        raise Hang

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class Tally:
    """What the fuzzing saw."""

    tried: int = 0
    accepted: int = 0
    refused: int = 0
    hangs: list[str] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)

    def check(self, label: str, fn: Callable[[], object]) -> None:
        self.tried += 1
        try:
            with bounded():
                fn()
            self.accepted += 1
        except UserError as exc:
            self.refused += 1
            assert "\n" not in str(exc).strip(), f"{label}: a multi-line error: {exc}"
        except Hang:
            self.hangs.append(label)
        except Exception as exc:  # a traceback is what is counted
            self.tracebacks.append(f"{label}: {type(exc).__name__}: {exc}"[:300])


# -- mutations of text files -------------------------------------------------------------------

def _swap(value: Any, rng: random.Random) -> Any:
    return rng.choice([None, -1, 0, 1e308, 10**30, "x" * 50, [], {}, [1, [2]], {"a": {"b": 1}}, True,
                       "ws://127.0.0.1:99999/", "\u00e9\u0000"]) if not isinstance(value, dict) else \
        {k: _swap(v, rng) if rng.random() < 0.3 else v for k, v in value.items()}


def type_swaps(text: str, rng: random.Random, n: int) -> list[bytes]:
    data = yaml.safe_load(text)
    out = []
    for _ in range(n):
        d = json.loads(json.dumps(data))
        path: list[Any] = []
        node = d
        while isinstance(node, (dict, list)) and node and rng.random() < 0.7:
            key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
            path.append(key)
            parent, node = node, node[key]
        if path:
            parent[path[-1]] = _swap(node, rng)
        else:
            d = _swap(d, rng)
        out.append(yaml.safe_dump(d, allow_unicode=True).encode())
    return out


def byte_mutations(raw: bytes, rng: random.Random, n: int) -> list[bytes]:
    out = []
    for i in range(n):
        b = bytearray(raw)
        if i % 3 == 0:
            b = b[: rng.randrange(len(b))]  # truncation
        else:
            for _ in range(rng.randint(1, 4)):  # byte flips, sometimes to non-UTF-8 or NUL
                b[rng.randrange(len(b))] = rng.choice([0, 0xFF, 0xC3, ord(":"), ord("["), ord("&"),
                                                       ord("*"), ord("\t"), rng.randrange(256)])
        out.append(bytes(b))
    return out


def hostile_yaml() -> list[bytes]:
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    return [
        bomb.encode(),
        b"name: &n [a, *n]\n",
        ("name: " + "[" * 20_000 + "]" * 20_000 + "\n").encode(),
        ("name: " + "{a: " * 5_000 + "1" + "}" * 5_000 + "\n").encode(),
        b"? [complex, key]\n: 1\nname: x\n",
        b"name: a\nname: b\n",
        b"name: caf\xe9\n",
        b"\x00\x01\x02binary\xff\xfe" * 40,
        bytes(range(256)) * 8,
        b"\xef\xbb\xbf" + b"name: bom\n",
        b"name: x\nrepeats: " + b"9" * 5000 + b"\n",
        b"- just\n- a list\n",
        b"",
        b"name: !!python/object:os.system x\n",
        b"name: x\n" + b"# padding\n" * 120_000,
    ]


def mutated(text: str, seed: int, n: int) -> list[bytes]:
    rng = random.Random(seed)
    return type_swaps(text, rng, n) + byte_mutations(text.encode(), rng, n) + hostile_yaml()


# -- the tests ---------------------------------------------------------------------------------

def test_malformed_files_are_refused_as_user_errors(tmp_path: Path) -> None:
    tally = Tally()
    kinds: list[tuple[str, str, Callable[[Path], object]]] = [
        ("scenario", SCENARIO, load_scenario),
        ("targets", TARGETS, lambda p: load_targets_file(p, auth_catalog())),
        ("policy", POLICY, load_policy),
    ]
    for k, (kind, text, load) in enumerate(kinds):
        for i, raw in enumerate(mutated(text, SEED + k, 12)):
            p = tmp_path / f"{kind}-{i}.yaml"
            p.write_bytes(raw)
            tally.check(f"{kind} #{i}", lambda p=p, load=load: load(p))  # type: ignore[misc]
    for i, raw in enumerate(_manifests(random.Random(SEED))):
        run = tmp_path / f"run-m{i}"
        shutil.copytree(RUNS / "few", run)
        (run / MANIFEST).write_bytes(raw)
        tally.check(f"manifest #{i}", lambda run=run: read_manifest(run))  # type: ignore[misc]
    for i, raw in enumerate(_calls(random.Random(SEED))):
        run = tmp_path / f"run-c{i}"
        shutil.copytree(RUNS / "few", run)
        (run / CALLS).write_bytes(raw)
        tally.check(f"calls #{i}", lambda run=run: _read_run(run))  # type: ignore[misc]
    print(f"\nmalformed files: {tally}")
    assert tally.tried >= 100
    assert tally.tracebacks == [] and tally.hangs == []
    assert tally.refused >= tally.tried // 2  # most mutations are refused, not silently accepted


def _read_run(run: Path) -> None:
    table = read_table(run)
    status = run_status(read_manifest(run).to_json(), table)
    malformed: list[int] = []
    records = load_records(run, malformed=malformed)
    assert len(records) == len(table) and tuple(malformed) == table.malformed == status.malformed


def _manifests(rng: random.Random) -> list[bytes]:
    text = (RUNS / "few" / MANIFEST).read_text()
    data = json.loads(text)
    out = [json.dumps(_swap_at(data, rng)).encode() for _ in range(14)]
    out += byte_mutations(text.encode(), rng, 9)
    out += [b"[]", b"{}", b'{"run_id": 1}', b'{"run_id": "x", "schema_version": "2"}',
            b'{"run_id": "x", "schema_version": 99}', b"[" * 100_000, b"\xff\xfe{}", b'{"run_id": "x"}']
    return out


def _swap_at(data: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    d: dict[str, Any] = json.loads(json.dumps(data))
    key = rng.choice(list(d))
    d[key] = _swap(d[key], rng) if not isinstance(d[key], dict) or rng.random() < 0.5 else \
        {k: _swap(v, rng) for k, v in d[key].items()}
    return d


def _calls(rng: random.Random) -> list[bytes]:
    lines = (RUNS / "few" / CALLS).read_bytes().splitlines(keepends=True)
    out = []
    for field_name in ("metrics", "marks", "usage", "error", "quality", "output_chunks", "turn", "ok",
                       "call_id", "snr_db", "schema_version", "audio"):
        for _ in range(2):
            d = json.loads(lines[rng.randrange(len(lines))])
            d[field_name] = _swap(d.get(field_name), rng) if rng.random() < 0.5 else \
                rng.choice([[1, 2], "x", {"a": "b"}, 1e308, None, -1])
            k = rng.randrange(len(lines))
            out.append(b"".join([*lines[:k], json.dumps(d).encode() + b"\n", *lines[k + 1:]]))
    tail = json.dumps({"run_id": "few", "call_id": "c9", "text": "h\u00e9llo w\u00f6rld"}, ensure_ascii=False)
    cut = tail.encode().index("\u00e9".encode()) + 1
    out.append(b"".join(lines) + tail.encode()[:cut])  # torn inside a two-byte character
    out += byte_mutations(b"".join(lines), rng, 6)
    out += [b"", b"\n\n", b"[]\n", b"null\n", b'{"a": NaN}\n', b"[" * 100_000 + b"\n"]
    return out


def test_a_damaged_run_is_reported_with_its_skipped_lines(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    shutil.copytree(RUNS / "few", run)
    lines = (run / CALLS).read_bytes().splitlines(keepends=True)
    bad = json.loads(lines[2])
    bad["metrics"] = "fast"
    torn = '{"run_id": "few", "utterance": "h\u00e9llo"'.encode()
    (run / CALLS).write_bytes(b"".join([*lines[:2], json.dumps(bad).encode() + b"\n", *lines[3:]])
                              + torn[: torn.index(b"\xc3") + 1])
    assert rtbench(["report", str(run)]) == 0
    err = capsys.readouterr().err
    assert f"2 malformed lines skipped in calls.jsonl (line 3, {len(lines) + 1})" in err
    html = (run / "report.html").read_text()
    assert "2 malformed lines skipped" in html
    assert f"{len(lines) - 1} turns" in html  # every other turn is reported


def _cli_cases(tmp: Path, rng: random.Random) -> list[list[str]]:
    scenario = tmp / "s.yaml"
    scenario.write_text(TEXT_SCENARIO)
    binary = tmp / "binary.yaml"
    binary.write_bytes(bytes(range(256)))
    run = tmp / "run"
    shutil.copytree(RUNS / "few", run)
    numbers = ["-1", "0", "1", "2", "10000", "10001", "99999999999", "1e400", "NaN", "abc", "", "0x10",
               " 3", "1_000"]
    paths = [str(tmp / "nope"), str(scenario), str(binary), "/proc/x", str(tmp), str(run), "/dev/null"]
    targets = ["ws://127.0.0.1:99999/v1", "ws://127.0.0.1:0/", "ws://[::1/", "http://x", "wss://h:65535/",
               "reference", "nowhere", "ws://:80/"]
    out: list[list[str]] = []
    for _ in range(40):
        args = ["run", rng.choice([str(scenario), str(binary), str(tmp / "nope.yaml")]), "--dry-run"]
        for flag, values in (("--repeats", numbers), ("--concurrency", numbers), ("--target", targets),
                             ("--out", paths), ("--targets", paths)):
            if rng.random() < 0.4:
                args += [flag, rng.choice(values)]
        if rng.random() < 0.2:
            args.append(rng.choice(["--resume", "--overwrite"]))
        out.append(args)
    for _ in range(20):
        out.append(rng.choice([
            ["report", rng.choice(paths)],
            ["export", rng.choice(paths), "--format", "csv", "--out", str(tmp / "t.csv")],
            ["compare", rng.choice(paths), str(run), "--alpha", rng.choice(numbers)],
            ["gate", "-b", rng.choice(paths), "-c", str(run), "-p", str(binary)],
            ["history", "--db", str(tmp / "h.db"), "plot", "--metric", "v2v_ms", "--min-segment",
             rng.choice(numbers), "--out", str(tmp / "t.html")],
            ["corpus", "check", rng.choice(paths)],
            ["score", rng.choice(paths)],
            ["schema", rng.choice(["scenario", "targets", "nope"])],
        ]))
    return out


def test_command_lines_exit_0_1_or_2_without_a_traceback(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    tally: dict[str, list[str]] = {"tracebacks": [], "hangs": [], "bad_exit": []}
    codes: dict[int, int] = {}
    cases = _cli_cases(tmp_path, random.Random(SEED))
    for args in cases:
        try:
            with bounded():
                code = rtbench(args)
        except SystemExit as exc:  # argparse's own refusals (exit 2) and --help (0)
            code = exc.code if isinstance(exc.code, int) else 2
        except Hang:
            tally["hangs"].append(" ".join(args))
            continue
        except Exception as exc:  # a traceback is what is counted
            tally["tracebacks"].append(f"{' '.join(args)}: {type(exc).__name__}: {exc}"[:300])
            continue
        codes[code] = codes.get(code, 0) + 1
        if code not in (0, 1, 2):
            tally["bad_exit"].append(f"{' '.join(args)} → {code}")
        capsys.readouterr()
    print(f"\ncommand lines: {len(cases)} tried, exit codes {dict(sorted(codes.items()))}, "
          f"{ {k: len(v) for k, v in tally.items()} }")
    assert tally == {"tracebacks": [], "hangs": [], "bad_exit": []}
    assert codes.get(2, 0) >= len(cases) // 2


@pytest.mark.parametrize("args", [
    ["run", "--repeats", "-1", "--dry-run"],
    ["run", "--target", "ws://127.0.0.1:99999/", "--dry-run"],
])
def test_bad_arguments_through_a_real_process(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "1 to 10,000" in proc.stderr or "Port out of range" in proc.stderr
