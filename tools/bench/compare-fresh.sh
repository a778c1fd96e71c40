#!/usr/bin/env bash
# Issue 15's cold-start check: fresh processes of `specula generate --compare` with the default draft length
# (auto, the adaptive scheduler) and with `--draft-length heuristic`, for the README's prompts at 64 and 128 new
# tokens. Run i of a cell starts one auto and one heuristic process back to back (the order alternates with i), so
# the two figures of a run saw about the same machine. Prints every run's speedups and auto / heuristic, then per
# cell min / median / max, and whether the goal holds: every auto run faster than plain, none below 0.95 of its
# run's heuristic figure.
#
#   tools/bench/compare-fresh.sh                 # 10 runs per cell, the jar at server/target/specula.jar
#   RUNS=3 TOKENS="64" tools/bench/compare-fresh.sh
#   JAR=path/to/specula.jar EXTRA="--pairs 5" tools/bench/compare-fresh.sh
#   RESULTS=/tmp/compare-fresh.abc123 RUNS=10 tools/bench/compare-fresh.sh    # only re-read an earlier run's files
#
# Counts (target calls, drafted, accepted) are printed too: unlike the speedups they do not depend on the machine's
# load, so they tell a policy's choices apart from noise. So does the "cost model" figure: each run's own steps (the
# draft length of every step, its draft model calls) priced at fixed relative costs, a target call over n positions
# costing VERIFY_RATIOS[n-1] plain steps (measured for the embedded pair on a 2-core CPU, as in
# SchedulerSimulationTest) and a draft model call DRAFT_COST of one (override both for another pair or machine).
# Build the jar first (mvn -q -B package -DskipTests).
set -euo pipefail

cd "$(dirname "$0")/../.."
JAR=${JAR:-server/target/specula.jar}
RUNS=${RUNS:-10}
TOKENS=${TOKENS:-"64 128"}
EXTRA=${EXTRA:-}
VERIFY_RATIOS=${VERIFY_RATIOS:-"1.0 1.17 1.27 1.35 1.43 1.57 1.72 1.87 2.02"}
DRAFT_COST=${DRAFT_COST:-0.15}
JAVA=${JAVA:-java}
[ -f "$JAR" ] || { echo "no jar at $JAR: build it with mvn -q -B package -DskipTests" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is needed to read the JSON results" >&2; exit 2; }

if [ -n "${RESULTS:-}" ]; then
    OUT=$RESULTS
else
    OUT=$(mktemp -d "${TMPDIR:-/tmp}/compare-fresh.XXXXXX")
fi
echo "results in $OUT; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $($JAVA -version 2>&1 | head -1)"

# name|prompt (empty: the command's default, the README demo)
PROMPTS=("readme|" "fibonacci|def fibonacci(n):")

run_one() { # file, draft length, tokens, prompt
    local file=$1 dl=$2 tokens=$3 prompt=$4
    local args=(generate --json --compare --max-new-tokens "$tokens" --draft-length "$dl")
    [ -n "$prompt" ] && args+=(--prompt "$prompt")
    # shellcheck disable=SC2086
    if ! $JAVA -jar "$JAR" "${args[@]}" $EXTRA >"$file" 2>"$file.err"; then
        echo "failed: $JAVA -jar $JAR ${args[*]} $EXTRA (see $file.err)" >&2
        exit 1
    fi
}

for entry in "${PROMPTS[@]}"; do
    [ -n "${RESULTS:-}" ] && break
    name=${entry%%|*}
    prompt=${entry#*|}
    for tokens in $TOKENS; do
        for i in $(seq 1 "$RUNS"); do
            if (( i % 2 == 1 )); then order="auto heuristic"; else order="heuristic auto"; fi
            for dl in $order; do
                run_one "$OUT/$name-$tokens-$dl-$i.json" "$dl" "$tokens" "$prompt"
            done
            printf '.' >&2
        done
    done
done
echo >&2

python3 - "$OUT" "$RUNS" "$TOKENS" "$VERIFY_RATIOS" "$DRAFT_COST" <<'PY'
import json, statistics, sys
out, runs, tokens = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
ratios_v = [float(x) for x in sys.argv[4].split()]
draft_cost = float(sys.argv[5])
print(f"cost model: target call over n positions = {ratios_v} (then +{ratios_v[-1] - ratios_v[-2]:.2f} per position)"
      f" plain steps, draft model call = {draft_cost} plain steps")

def verify_ratio(n):
    return ratios_v[n - 1] if n <= len(ratios_v) else ratios_v[-1] + (ratios_v[-1] - ratios_v[-2]) * (n - len(ratios_v))

def model_speedup(m):
    """The run's steps at the cost model: plain makes every token at one step; prefill left out of both."""
    ks = m["draft_lengths"]
    cost = sum(verify_ratio(k + 1) for k in ks) + draft_cost * m["draft_calls"]
    return m["generated_tokens"] / cost if cost else float("nan")

ok = True
model_ok = True
for name in ("readme", "fibonacci"):
    for t in tokens:
        rows = []
        for i in range(1, runs + 1):
            r = {}
            for dl in ("auto", "heuristic"):
                with open(f"{out}/{name}-{t}-{dl}-{i}.json") as f:
                    j = json.load(f)
                m = j["metrics"]
                r[dl] = (j["speedup"], m["target_calls"], m["drafted_tokens"], m["accepted_tokens"],
                         j.get("pair_speedups", [j["speedup"]]), j["identical"], model_speedup(m))
            rows.append(r)
        print(f"\n== {name}, {t} tokens: {runs} fresh processes per draft length ==")
        print(f"{'run':>3} {'auto':>6} {'heur':>6} {'auto/heur':>9}   cost model: {'auto':>5} {'heur':>5} {'ratio':>6}"
              f"   auto calls/drafted/accepted   heur calls/drafted/accepted")
        ratios = []
        for i, r in enumerate(rows, 1):
            a, h = r["auto"], r["heuristic"]
            ratio = a[0] / h[0]
            ratios.append(ratio)
            flag = "" if a[0] > 1 and ratio >= 0.95 else "  <-- below goal"
            if not (a[5] and h[5]):
                flag += "  outputs NOT identical"
            print(f"{i:>3} {a[0]:6.2f} {h[0]:6.2f} {ratio:9.3f}               {a[6]:5.2f} {h[6]:5.2f} {a[6] / h[6]:6.3f}"
                  f"   {a[1]:>10}/{a[2]}/{a[3]:<14} {h[1]:>10}/{h[2]}/{h[3]}{flag}")
        def mmm(v):
            return f"min {min(v):.2f}, median {statistics.median(v):.2f}, max {max(v):.2f}"
        auto = [r["auto"][0] for r in rows]
        heur = [r["heuristic"][0] for r in rows]
        print(f"auto       {mmm(auto)}")
        print(f"heuristic  {mmm(heur)}")
        print(f"auto/heur  {mmm(ratios)}")
        print(f"target calls: auto median {statistics.median(r['auto'][1] for r in rows)}, heuristic median "
              f"{statistics.median(r['heuristic'][1] for r in rows)}")
        model_ratios = [r["auto"][6] / r["heuristic"][6] for r in rows]
        print(f"cost model auto/heur  {mmm(model_ratios)}; auto {mmm([r['auto'][6] for r in rows])}")
        cell_ok = all(a > 1 for a in auto) and all(x >= 0.95 for x in ratios)
        ok &= cell_ok
        model_ok &= all(r["auto"][6] > 1 for r in rows) and all(x >= 0.95 for x in model_ratios)
        print("goal (every auto > 1x, every auto/heur >= 0.95):", "met" if cell_ok else "NOT met")
print("\nall cells, measured:", "goal met" if ok else "goal NOT met")
print("all cells, at the cost model (the choices alone, free of machine noise):", "goal met" if model_ok else "goal NOT met")
PY
