from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.common.errors import MissingApiKeyError, ScenarioError, UnknownNameError, UserError
from bench.measure.dialects import auth_catalog, get_dialect
from bench.measure.runner import REFERENCE_KEY, endpoint_for
from bench.plan.targets import BUILTIN, TargetBook
from bench.results.records import TurnError, TurnRecord
from bench.results.store import RunStore, load_records


def test_targets_file_and_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "targets.yaml"
    f.write_text("targets:\n  azure:\n    url: wss://x.openai.azure.com/openai/v1/realtime\n"
                 "    model: gpt-realtime\n    api_key_env: AZURE_KEY\n    auth: api-key\n")
    book = TargetBook.load(auth_catalog(), f)
    t = book.resolve("azure")
    monkeypatch.delenv("AZURE_KEY", raising=False)
    with pytest.raises(MissingApiKeyError, match="set the environment variable AZURE_KEY"):
        t.api_key()
    monkeypatch.setenv("AZURE_KEY", "secret-123")
    ep = endpoint_for(t, get_dialect(t.dialect), t.url or "")
    assert ep.headers == {"api-key": "secret-123"} and ep.url.endswith("?model=gpt-realtime")
    assert "secret-123" not in json.dumps(t.public())
    valid = "valid: azure, openai, openai-mini, ref-fp16, ref-int4, ref-int8, reference"
    with pytest.raises(UnknownNameError, match=valid):
        book.resolve("azur")


def test_targets_file_errors_name_the_line(tmp_path: Path) -> None:
    f = tmp_path / "targets.yaml"
    f.write_text("targets:\n  a:\n    url: wss://h/v1/realtime\n    dialect: klingon\n")
    with pytest.raises(ScenarioError, match=r"targets.yaml:4: targets.a.dialect: .*valid: auto, gemini-live"):
        TargetBook.load(auth_catalog(), f)
    f.write_text("targets:\n  a:\n    url: wss://h/v1/realtime\n    dialect: openai-ga\n    auth: query\n")
    with pytest.raises(ScenarioError, match=r"targets.yaml:5: targets.a.auth: .*'openai-ga' does not accept"
                                            r" auth 'query'; valid: bearer, api-key, subprotocol, none"):
        TargetBook.load(auth_catalog(), f)
    f.write_text("targets:\n  a:\n    url: wss://h/v1/realtime\n    dialect: openai-beta\n")
    assert TargetBook.load(auth_catalog(), f).resolve("a").auth == "bearer"  # the dialect's default


def test_builtin_targets_speak_registered_dialects_and_the_reference_key_stays_built_in() -> None:
    catalog = auth_catalog()
    for t in BUILTIN.values():
        assert t.dialect in catalog and (t.auth is None or t.auth in catalog[t.dialect]), t.name
    ref = BUILTIN["reference"]
    ep = endpoint_for(ref, get_dialect(ref.dialect), "ws://127.0.0.1:1/v1/realtime")
    assert ep.headers == {"Authorization": f"Bearer {REFERENCE_KEY}"}
    assert ep.url == "ws://127.0.0.1:1/v1/realtime?model=ref-realtime"


def test_url_targets_and_subprotocol_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    book = TargetBook.load(auth_catalog(), None)
    t = book.resolve("wss://gw.example/v1/realtime?model=m1")
    assert t.model == "m1" and t.dialect == "auto"
    monkeypatch.setenv("GW_KEY", "k")
    from dataclasses import replace
    ep = endpoint_for(replace(t, api_key_env="GW_KEY", auth="subprotocol"), get_dialect("auto"), t.url or "")
    assert ep.subprotocols == ["realtime", "openai-insecure-api-key.k"]
    assert ep.url.count("model=") == 1


def _record(i: int) -> TurnRecord:
    return TurnRecord("run", f"c{i}", 0, "reference", "websocket", "v", "m", "openai-ga", "en-us", "u", 0,
                      False, "server_vad", i % 2 == 0, None if i % 2 == 0 else TurnError("timeout", "t"),
                      {"connect_start": 0.0}, {"ttfb_ms": 1.5}, None, "ref", None, "out", "completed",
                      [(1.0, 480)])


def test_records_round_trip_and_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    for i in range(3):
        store.append(_record(i))
    # appended records are readable before the store is closed (flushed per turn)
    assert [r.call_id for r in load_records(tmp_path)] == ["c0", "c1", "c2"]
    store.close()
    with open(tmp_path / "calls.jsonl", "a") as f:
        f.write('{"run_id": "run", "call_id": "c3", "tu')  # a crash mid-write
    records = load_records(tmp_path)
    assert len(records) == 3 and records[1].error == TurnError("timeout", "t")
    assert records[0].output_chunks == [(1.0, 480)]


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    (tmp_path / "calls.jsonl").write_text(json.dumps({**_record(0).to_json(), "schema_version": 99}) + "\n")
    with pytest.raises(UserError, match="newer"):
        load_records(tmp_path)
