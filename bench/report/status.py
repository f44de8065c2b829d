"""Is a run whole? What its manifest planned against what calls.jsonl holds, and the lines of
calls.jsonl that had to be skipped: shown at the top of a report and printed by `rtbench report`,
so an interrupted or damaged run is never mistaken for a complete one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.results.columns import TurnTable

SHOWN_LINES = 10
"""Malformed line numbers listed at most."""


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


@dataclass(frozen=True)
class RunStatus:
    """How complete a stored run is."""

    finished: bool
    """The run wrote its end time (it was not killed or interrupted before the end). Runs older
    than the manifest's `plan` are taken as finished: they did not record what they planned."""
    planned_calls: int | None
    """Calls the manifest planned; None for runs whose manifest does not say."""
    planned_turns: int | None
    """Turns the manifest planned."""
    recorded_calls: int
    """Distinct calls with at least one turn in calls.jsonl."""
    recorded_turns: int
    """Turn records read."""
    malformed: tuple[int, ...] = ()
    """Line numbers of calls.jsonl skipped as not turn records."""

    @property
    def missing_calls(self) -> int:
        """Planned calls with no record at all (0 when the plan is unknown)."""
        return max(0, (self.planned_calls or 0) - self.recorded_calls)

    @property
    def complete(self) -> bool:
        return self.finished and self.missing_calls == 0 and not self.malformed

    def warnings(self) -> list[str]:
        """One sentence per problem, for the report's banner and stderr; [] for a whole run."""
        out = []
        if not self.finished:
            out.append(f"This run was interrupted: {self.missing_calls} of {self.planned_calls} planned "
                       f"calls did not run ({self.recorded_turns} of {self.planned_turns} planned turns "
                       "recorded). `rtbench run SCENARIO --out RUN_DIR --resume` finishes it.")
        elif self.missing_calls:
            out.append(f"{self.missing_calls} of {self.planned_calls} planned calls have no record.")
        if self.malformed:
            shown = ", ".join(map(str, self.malformed[:SHOWN_LINES]))
            more = ", …" if len(self.malformed) > SHOWN_LINES else ""
            out.append(f"{len(self.malformed)} malformed lines skipped in calls.jsonl (line {shown}{more}): "
                       "not turn records (torn by a crash, or a field of the wrong type).")
        return out


def run_status(manifest: dict[str, Any], table: TurnTable) -> RunStatus:
    """The status of a run from its manifest (as JSON) and its turn table."""
    plan = manifest.get("plan")
    plan = plan if isinstance(plan, dict) else {}
    calls = int(table.frame["call_id"].nunique()) if len(table) else 0
    planned = _count(plan.get("calls"))
    finished = manifest.get("ended_at") is not None or planned is None
    return RunStatus(finished, planned, _count(plan.get("turns")), calls, len(table), table.malformed)
