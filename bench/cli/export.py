"""Export the turns of a run as one table, for pandas, a notebook or a spreadsheet.

One row per turn, in the order of calls.jsonl (warm-ups included, flagged): ids (call, turn,
repeat), group fields (target, transport, variant, model), voice, utterance, input SNR, warm-up,
ok, the error cause of a failed turn, every metric (empty when the turn failed or did not
measure it), and for each WER metric `<metric>.words`: the normalized reference words it is
pooled by (pooled WER = Σ(wer × words) ÷ Σ words).

    rtbench export reports/<run-id> --format parquet --out turns.parquet
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from bench.common.errors import UnknownNameError, UserError
from bench.results.columns import ID_COLUMNS, TurnTable, read_table

NAME = "export"
HELP = "export a run's turns as CSV or Parquet (one row per turn, every metric a column)"


def _csv(frame: pd.DataFrame, out: Path) -> None:
    frame.to_csv(out, index=False)


def _parquet(frame: pd.DataFrame, out: Path) -> None:
    frame.to_parquet(out, index=False)


WRITERS: dict[str, Callable[[pd.DataFrame, Path], None]] = {"csv": _csv, "parquet": _parquet}
"""Export format → writer."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN", type=Path, help="a run directory (reports/<run-id>)")
    parser.add_argument("--format", "-f", default="csv", choices=list(WRITERS),
                        help="file format (default: csv)")
    parser.add_argument("--out", "-o", type=Path, metavar="FILE",
                        help="where to write (default: RUN/turns.csv or RUN/turns.parquet)")


def turns_frame(table: TurnTable) -> pd.DataFrame:
    """The exported columns: ids and outcome, metrics, and the WER weights."""
    words = [f"{n}.words" for n in table.metrics if f"{n}.words" in table.frame]
    return table.frame[[*ID_COLUMNS, *table.metrics, *words]]


def export(run_dir: Path, fmt: str, out: Path | None = None) -> Path:
    """Write the run's turns in `fmt` to `out` (default: inside the run); return the path."""
    if fmt not in WRITERS:
        raise UnknownNameError("export format", fmt, list(WRITERS))
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such run directory")
    path = out or run_dir / f"turns.{fmt}"
    try:
        WRITERS[fmt](turns_frame(read_table(run_dir)), path)
    except OSError as exc:
        raise UserError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return path


def run(args: argparse.Namespace) -> int:
    print(export(args.run_dir, args.format, args.out))
    return 0
