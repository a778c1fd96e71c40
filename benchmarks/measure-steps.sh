#!/usr/bin/env bash
# Per-step costs of the embedded pair (JMH): target step and verify of k+1 tokens (k = 0..8) followed by the
# rollback of the k draft tokens, draft step, and the cost of compacting the KV cache, at 128 and 512 tokens of
# context. Usage: bash benchmarks/measure-steps.sh [OUTPUT_FILE]   (after mvn -q install -DskipTests)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-/dev/stdout}"
jar=benchmarks/target/specula-benchmarks.jar
opts=(-f 1 -wi 3 -w 1 -i 5 -r 1 -tu us)
{
  java -jar "$jar" OnnxStepBenchmark "${opts[@]}" -p model=target -p context=128,512 -p k=0,1,2,3,4,5,6,7,8
  java -jar "$jar" OnnxStepBenchmark "${opts[@]}" -p model=draft -p context=128,512 -p k=0
  java -jar "$jar" "SamplingBenchmark|AcceptanceBenchmark|PromptLookupBenchmark" "${opts[@]}"
} 2>&1 | grep -E "^(Benchmark|OnnxStep|Sampling|Acceptance|PromptLookup)" > "$out"
