"""A run's manifest.json, typed and versioned: what was run, where, with what, and the price entry
each target's costs were computed with. Older manifests are migrated on read (`migrate_manifest`)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import msgspec

from bench.common.errors import UserError
from bench.metrics.cost import price_for
from bench.results.records import upgrade
from bench.results.store import MANIFEST, read_json

MANIFEST_VERSION = 2
"""1 → 2: each target records the price entry applied (or why none) and whether its cost is
simulated; `options.save_audio`; `metrics`, the measure-stage registry fingerprint."""
SIMULATED = "the built-in reference endpoint, priced as if it were {key} (simulated cost)"


@dataclass(frozen=True)
class PriceApplied:
    """The price table entry a target's `cost_usd` was computed with, or why none applies."""

    key: str | None
    """The pricing key asked for (the target's `pricing`, else its `model`)."""
    model: str | None = None
    """The table entry found (its canonical model name); None when no price applies."""
    as_of: str | None = None
    """The date the entry's prices were published or checked."""
    source: str | None = None
    """Where the prices come from."""
    simulated: bool = False
    """True when the target is not the priced model (the reference endpoint priced as it)."""
    reason: str = ""
    """Why no price applies ("" when one does)."""

    @staticmethod
    def lookup(key: str | None, simulated: bool) -> PriceApplied:
        """The entry of today's price table for `key`."""
        price = price_for(key)
        if price is None:
            why = "the target names no model or pricing key" if key is None else f"no price for {key!r}"
            return PriceApplied(key, simulated=simulated, reason=f"{why}: cost_usd is null")
        return PriceApplied(key, price.model, price.as_of, price.source, simulated)


@dataclass(frozen=True)
class TargetInfo:
    """One target as the run used it (no secrets: only the *name* of its key variable)."""

    name: str
    """The target's name."""
    settings: dict[str, Any]
    """Its public settings (url, dialect, model, auth style, key variable name, …)."""
    price: PriceApplied
    """The price entry applied to its turns."""

    def to_json(self) -> dict[str, Any]:
        return {**self.settings, "name": self.name, "price": asdict(self.price)}

    @staticmethod
    def from_json(d: dict[str, Any]) -> TargetInfo:
        settings = {k: v for k, v in d.items() if k not in ("name", "price")}
        price = PriceApplied(**d["price"]) if isinstance(d.get("price"), dict) else _v1_price(d)
        return TargetInfo(str(d.get("name", "")), settings, price)


def _v1_price(d: dict[str, Any]) -> PriceApplied:
    """A schema-1 target priced by today's table (what `rtbench report` recomputes cost with)."""
    return PriceApplied.lookup(d.get("pricing") or d.get("model"), simulated=d.get("url", "") is None)


@dataclass(frozen=True)
class ScenarioInfo:
    """The scenario file as it was read."""

    name: str
    """Its `name:`."""
    path: str = ""
    """Where it was read from."""
    sha256: str = ""
    """Of its text."""
    text: str = ""
    """Its full text (so a stored run can be re-scored with the scenario it ran)."""


@dataclass(frozen=True)
class Manifest:
    """manifest.json of one run."""

    run_id: str
    """The run directory's name."""
    scenario: ScenarioInfo
    """What was run."""
    targets: tuple[TargetInfo, ...] = ()
    """Against what, with the prices applied."""
    harness: dict[str, Any] = field(default_factory=dict)
    """Harness version and git sha."""
    machine: dict[str, Any] = field(default_factory=dict)
    """What it ran on."""
    argv: tuple[str, ...] = ()
    """The command line after `rtbench`."""
    options: dict[str, Any] = field(default_factory=dict)
    """`paced`, `concurrency`, `save_audio`."""
    notes: tuple[str, ...] = ()
    """Lines for people (e.g. which costs are simulated)."""
    metrics: str = ""
    """Fingerprint of the measure-stage metric registry the stored metrics were computed with."""
    started_at: str = ""
    ended_at: str | None = None
    """Set when the run finished writing its records: None for a run that was interrupted."""
    plan: dict[str, Any] = field(default_factory=dict)
    """What the run set out to do: `calls` and `turns` planned, and `fingerprint` (of the
    scenario, targets and matrix), which `rtbench run --resume` checks. Empty for older runs."""
    schema_version: int = MANIFEST_VERSION

    @property
    def saved_audio(self) -> bool:
        return bool(self.options.get("save_audio", "--no-audio" not in self.argv))

    @property
    def planned_calls(self) -> int | None:
        """Calls the run planned; None when its manifest does not say (older runs)."""
        n = self.plan.get("calls")
        return n if isinstance(n, int) and not isinstance(n, bool) else None

    @property
    def planned_turns(self) -> int | None:
        n = self.plan.get("turns")
        return n if isinstance(n, int) and not isinstance(n, bool) else None

    def target(self, name: str) -> TargetInfo | None:
        return next((t for t in self.targets if t.name == name), None)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(targets=[t.to_json() for t in self.targets], argv=list(self.argv), notes=list(self.notes))
        return d

    @staticmethod
    def from_json(d: dict[str, Any]) -> Manifest:
        d = migrate_manifest(d)
        known = {k: v for k, v in d.items() if k in Manifest.__dataclass_fields__}
        known.update(scenario=ScenarioInfo(**d["scenario"]), argv=tuple(d["argv"]), notes=tuple(d["notes"]),
                     targets=tuple(map(TargetInfo.from_json, d["targets"])))
        return Manifest(**known)

    def with_metrics(self, fingerprint: str) -> Manifest:
        return replace(self, metrics=fingerprint)


def _v1_to_v2(d: dict[str, Any]) -> dict[str, Any]:
    scenario = {k: v for k, v in (d.get("scenario") or {}).items() if k in ScenarioInfo.__dataclass_fields__}
    argv = list(d.get("argv") or [])
    options = {"save_audio": "--no-audio" not in argv, **(d.get("options") or {})}
    return {**d, "scenario": {"name": "", **scenario}, "targets": d.get("targets") or [], "argv": argv,
            "notes": d.get("notes") or [], "options": options, "metrics": "", "schema_version": 2}


MIGRATIONS = {1: _v1_to_v2}
"""Version → the function that lifts a manifest of that version to the next."""


def migrate_manifest(d: dict[str, Any]) -> dict[str, Any]:
    """Bring a manifest's JSON up to MANIFEST_VERSION."""
    return upgrade(d, "manifest", MANIFEST_VERSION, MIGRATIONS)


class _Shape(msgspec.Struct):
    """The types of a (migrated) manifest's fields, checked before it is built (msgspec checks
    the dataclasses `ScenarioInfo` and `PriceApplied` field by field too)."""

    run_id: str
    scenario: ScenarioInfo
    targets: list[dict[str, Any]]
    argv: list[str]
    notes: list[str]
    harness: dict[str, Any] = {}
    machine: dict[str, Any] = {}
    options: dict[str, Any] = {}
    metrics: str = ""
    started_at: str = ""
    ended_at: str | None = None
    plan: dict[str, Any] = {}


def read_manifest(run_dir: Path) -> Manifest:
    """The run's manifest, migrated to this version; a UserError naming file:line and field when
    a field has the wrong type."""
    path = run_dir / MANIFEST
    data = read_json(path, newest=MANIFEST_VERSION)
    if not isinstance(data.get("run_id"), str):
        raise UserError(f"{path}: not a run manifest (no run_id)")
    try:
        migrated = migrate_manifest(data)
        msgspec.convert(migrated, _Shape)
        for t in migrated["targets"]:
            if "price" in t:
                msgspec.convert(t["price"], PriceApplied)
        return Manifest.from_json(migrated)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).partition(" - at `$")
        field = where.rstrip("`").lstrip(".")
        key = field.rsplit(".", 1)[-1].split("[", 1)[0] or "run_id"
        raise UserError(f"{path}:{_line_of_key(path, key)}: {field or '(top level)'}: {message}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UserError(f"{path}: not a run manifest: {type(exc).__name__}: {exc}") from None


def _line_of_key(path: Path, key: str) -> int:
    """The line where `"key":` first appears in the file (1 when it does not)."""
    text = path.read_text(encoding="utf-8")
    match = re.search(rf'"{re.escape(key)}"\s*:', text)
    return text.count("\n", 0, match.start()) + 1 if match else 1
