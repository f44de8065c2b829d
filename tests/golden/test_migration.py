"""Golden migration: today's schema-1 records and manifests (tests/golden/runs, and a real run
made by the schema-1 harness in tests/golden/v1) read through the migration unchanged in meaning."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from bench.common.errors import UserError
from bench.results.manifest import MANIFEST_VERSION, Manifest, read_manifest
from bench.results.records import RECORD_VERSION, RecordQuality, TurnRecord, migrate_record

HERE = Path(__file__).resolve().parent
RUNS = sorted([*(HERE / "runs").iterdir(), HERE / "v1" / "variants"])
ADDED = {"schema_version", "output_rate"}


def lines(run: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in (run / "calls.jsonl").read_text(encoding="utf-8").splitlines() if x]


@pytest.mark.parametrize("run", RUNS, ids=lambda p: p.name)
def test_schema_1_records_read_unchanged_in_meaning(run: Path) -> None:
    for old in lines(run):
        assert old["schema_version"] == 1
        record = TurnRecord.from_json(dict(old))
        new = record.to_json()
        assert new["schema_version"] == RECORD_VERSION
        assert {k: v for k, v in old.items() if k not in ADDED} == {k: new[k] for k in old if k not in ADDED}
        defaults = {"quality": {}, "snr_db": None, "null_reasons": {}, "output_voice": None,
                    "speed": None, "turn_detection": None}  # fields older records did not write
        assert {k: new[k] for k in set(new) - set(old) - ADDED}.items() <= defaults.items()
        assert TurnRecord.from_json(json.loads(json.dumps(new))) == record  # and round-trips as schema 2


def test_the_real_v1_run_gets_its_output_rate_and_typed_quality() -> None:
    fp16, int4 = (TurnRecord.from_json(d) for d in lines(HERE / "v1" / "variants"))
    assert fp16.output_rate == int4.output_rate == 24_000  # 2400-sample chunks of 24 kHz PCM16
    w = int4.quality.wer["output_wer"]
    assert int4.metrics["output_wer"] == pytest.approx(w.edits / w.reference_words) == w.wer
    assert w.hypothesis and int4.quality.backends["output_wer"] == "pocketsphinx"
    assert int4.quality.reference == f"ref-fp16 {fp16.call_id}.{fp16.turn}" and fp16.quality.reference is None
    assert int4.quality["wer"]["output_wer"]["reference_words"] == w.reference_words  # schema-1 readers
    assert RecordQuality.from_json(int4.quality.to_json()) == int4.quality
    assert RecordQuality().to_json() == {}


def test_a_record_from_a_newer_harness_is_refused() -> None:
    with pytest.raises(UserError, match="newer than this harness"):
        migrate_record({"schema_version": RECORD_VERSION + 1})


@pytest.mark.parametrize("run", RUNS, ids=lambda p: p.name)
def test_schema_1_manifests_read_through_the_migration(run: Path) -> None:
    old = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    m = read_manifest(run)
    assert (m.run_id, m.scenario.name) == (old["run_id"], old["scenario"]["name"])
    assert m.started_at == old["started_at"]
    assert m.schema_version == MANIFEST_VERSION and m.metrics == ""  # unknown: `rtbench report` recomputes
    assert [t.name for t in m.targets] == [t["name"] for t in old.get("targets", [])]
    assert Manifest.from_json(json.loads(json.dumps(m.to_json()))) == m


def test_a_v1_manifest_says_which_price_applies_and_that_reference_costs_are_simulated() -> None:
    m = read_manifest(HERE / "v1" / "variants")
    for t in m.targets:
        assert t.settings["url"] is None and t.price.simulated
        assert (t.price.key, t.price.model) == ("gpt-realtime", "gpt-realtime")
        assert t.price.as_of and t.price.source and not t.price.reason
    assert m.saved_audio and m.scenario.text.startswith("name: golden-v1")
    unpriced = replace(m.targets[0].price, key="ref-realtime")
    assert unpriced.key == "ref-realtime"
    with pytest.raises(UserError, match="newer than this harness"):
        Manifest.from_json({**m.to_json(), "schema_version": MANIFEST_VERSION + 1})
