#!/usr/bin/env bash
# Run the nightly scenario, store it in the history, gate it against a baseline; exit with the
# gate's code (0 pass, 1 regression, 2 undecidable or error). Both CI workflows call it, and it
# runs locally the same way:
#
#   ci/nightly.sh [--targets T[,T...]] [--baseline RUN_DIR] [--baseline-target T]
#                 [--scenario FILE] [--policy FILE] [--db FILE] [--out-root DIR]
#                 [--repeats N] [--concurrency N] [--pace realtime|burst] [--label NAME]
#                 [--no-history-add]
#
# Without --baseline, the baseline is the newest good run (verdict baseline or pass) of the same
# scenario and target in the history database (--baseline-target names that target when it
# differs, e.g. a candidate served on another port). With no baseline at all, this run becomes
# the baseline (exit 0). Outputs in the run directory: gate.md (for a PR comment), gate.xml
# (JUnit), gate.json. When $GITHUB_OUTPUT is set, run_dir, gate_markdown and gate_exit are
# written to it. Environment: RTBENCH (default .venv/bin/rtbench), PYTHON (default .venv/bin/python).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
RTBENCH=${RTBENCH:-.venv/bin/rtbench}
PYTHON=${PYTHON:-.venv/bin/python}
scenario=scenarios/nightly.yaml policy=ci/gate.yaml db=reports/history.sqlite out_root=reports
baseline="" baseline_target="" repeats="" concurrency="" pace="" label=nightly history_add=1
targets=()

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit "${1:-2}"; }
need() { [[ $# -ge 2 && -n "$2" ]] || { echo "nightly.sh: $1 needs a value" >&2; exit 2; }; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --targets|--target) need "$@"; IFS=', ' read -r -a more <<<"$2"; targets+=("${more[@]}"); shift 2 ;;
    --baseline) need "$@"; baseline=$2; shift 2 ;;
    --baseline-target) need "$@"; baseline_target=$2; shift 2 ;;
    --scenario) need "$@"; scenario=$2; shift 2 ;;
    --policy) need "$@"; policy=$2; shift 2 ;;
    --db) need "$@"; db=$2; shift 2 ;;
    --out-root) need "$@"; out_root=$2; shift 2 ;;
    --repeats) need "$@"; repeats=$2; shift 2 ;;
    --concurrency) need "$@"; concurrency=$2; shift 2 ;;
    --pace) need "$@"; pace=$2; shift 2 ;;
    --label) need "$@"; label=$2; shift 2 ;;
    --no-history-add) history_add=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "nightly.sh: unknown option $1" >&2; usage 2 >&2 ;;
  esac
done

out="$out_root/$label-$(date -u +%Y%m%dT%H%M%SZ)-$$"
run_args=(run "$scenario" --out "$out" --no-audio)
for t in "${targets[@]}"; do run_args+=(--target "$t"); done
[[ -n "$repeats" ]] && run_args+=(--repeats "$repeats")
[[ -n "$concurrency" ]] && run_args+=(--concurrency "$concurrency")
[[ -n "$pace" ]] && run_args+=(--pace "$pace")

finish() {  # finish EXIT_CODE VERDICT: record the run in the history, publish outputs, exit
  if [[ $history_add == 1 && -f "$out/summary.json" ]]; then
    "$RTBENCH" history --db "$db" add "$out" --verdict "$2" >/dev/null || true
  fi
  if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
    { echo "run_dir=$out"; echo "gate_markdown=$out/gate.md"; echo "gate_exit=$1"; } >>"$GITHUB_OUTPUT"
  fi
  echo "nightly.sh: run $out · verdict $2 · exit $1"
  exit "$1"
}

echo "nightly.sh: $RTBENCH ${run_args[*]}"
"$RTBENCH" "${run_args[@]}"
run_code=$?
if [[ $run_code -ne 0 ]]; then
  echo "nightly.sh: the run failed (exit $run_code): undecidable" >&2
  printf '## rtbench gate: ⚠️ undecidable\n\nThe run failed (rtbench run exit %s).\n' "$run_code" >"$out/gate.md" 2>/dev/null
  finish 2 undecidable
fi

# The scenario name and first target of this run (the history is looked up by them).
read -r scen_name first_target < <("$PYTHON" -c 'import json,sys
s = json.load(open(sys.argv[1]))
print(s.get("scenario") or "-", (s.get("groups") or [{}])[0].get("target", "-"))' "$out/summary.json")

if [[ -z "$baseline" ]]; then
  baseline=$("$RTBENCH" history --db "$db" last-good --scenario "$scen_name" \
             --target "${baseline_target:-$first_target}" 2>/dev/null) || baseline=""
fi
if [[ -z "$baseline" ]]; then
  echo "nightly.sh: no baseline in $db for $scen_name/${baseline_target:-$first_target}: this run is the baseline"
  printf '## rtbench gate: no baseline\n\nRun `%s` is the new baseline.\n' "$(basename "$out")" >"$out/gate.md"
  finish 0 baseline
fi

echo "nightly.sh: gating $out against $baseline"
gate_args=(gate --baseline "$baseline" --candidate "$out" --policy "$policy")
"$RTBENCH" "${gate_args[@]}" --format markdown --out "$out/gate.md"
"$RTBENCH" "${gate_args[@]}" --format junit --out "$out/gate.xml"
"$RTBENCH" "${gate_args[@]}" --format json --out "$out/gate.json"
"$RTBENCH" "${gate_args[@]}" --format table
code=$?
case $code in
  0) finish 0 pass ;;
  1) finish 1 regression ;;
  *) finish 2 undecidable ;;
esac
