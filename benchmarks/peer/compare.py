#!/usr/bin/python3
"""Side-by-side decode speed of Specula and llama.cpp on the same model pair, prompts, token counts and threads.

Steps: converts the pair to f32 GGUF (onnx_to_gguf.py) unless present; checks that llama.cpp's greedy token ids
equal Specula's plain greedy ids on every prompt (and that each engine's speculative modes reproduce its own plain
output); then runs every engine configuration on every prompt, interleaved (repeat > prompt > threads >
configuration, the configuration order rotated each repeat), and writes a markdown table of median decode
tokens/s, the raw runs (JSON lines) and the exact commands.

Decode-only throughput on both sides (tokens produced after the prompt is processed, over the time spent
producing them; model loading, warm-up and prompt processing excluded):
- Specula (`generate --json --warm-up`, one JVM per run, after its warm-up generations; `--cold`: the JVM's first
  generation, JIT compilation included): generated_tokens /
  (total_ms - prefill_ms). Specula prefills all prompt tokens but the last and feeds the last one in the first
  decode step, so every generated token comes out of a timed decode step; the time includes drafting,
  verification, sampling and Java-side work; prefill_ms also holds the draft model's prefill.
- llama-completion: its own `eval time` (runs / ms: the one-token decode calls after the prompt; excludes
  sampling, reported separately by llama.cpp).
- llama-speculative and llama-lookup: (sampled tokens - 1) / their `decoded ... in S seconds` wall time (the
  first token is sampled from the prompt pass, outside the timed loop; the loop includes drafting and sampling).

Usage: compare.py [--threads 1,2] [--repeats 3] [--prompts code:8,edit:6] [--max-new-tokens 128] [--out DIR]
                  [--pair DIR --gguf-dir DIR] [--quantized 8,4]
"""
import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PAIR = os.path.join(ROOT, "models/src/main/resources/dev/specula/models/python-code")
WORKLOADS = os.path.join(ROOT, "server/src/main/resources/dev/specula/cli/bench/workloads.json")
PY = "/usr/bin/python3"

LLAMA_CONFIGS = ["llama.cpp plain", "llama.cpp + draft", "llama.cpp lookup"]
SPECULA_CONFIGS = ["Specula plain", "Specula + draft", "Specula lookup", "Specula lookup + draft"]
SPECULA_DRAFT = {"Specula plain": "none", "Specula + draft": "model", "Specula lookup": "lookup",
                 "Specula lookup + draft": "lookup-model"}
# Quantized weights (--quantized): llama.cpp's Q8_0 / Q4_0 of the f32 GGUF (llama-quantize), and Specula's
# MatMulNBits variants of the same ONNX pair (tools/model-factory/quantize_nbits.py: the same symmetric blocks of
# 32). The accuracy level per bit width is the faster row-invariant one measured on ONNX Runtime 1.29's CPU kernels:
# 8 bits computes with 8-bit activations (level 4), 4 bits in float32 (level 0: its level 4 is row-variant).
LLAMA_QUANT = {8: "Q8_0", 4: "Q4_0"}
ACCURACY_LEVEL = {8: 4, 4: 0}


def base_config(config):
    """'Specula + draft (8-bit)' -> 'Specula + draft'."""
    return config.split(" (")[0]


def bits_of(config):
    """The weight bits of a configuration: 8 or 4 for '(Q8_0)' / '(8-bit)' and the like, else None (float32)."""
    for b, q in LLAMA_QUANT.items():
        if config and (config.endswith(f"({q})") or config.endswith(f"({b}-bit)")):
            return b
    return None


class Env:
    def __init__(self, a):
        self.a = a
        self.bin = a.llama_bin
        self.target_dir = os.path.join(a.pair, "target")
        self.draft_dir = os.path.join(a.pair, "draft")
        self.quant_dir = os.path.join(a.gguf_dir, "onnx")  # Specula's quantized copies of the pair
        self.prompt_dir = os.path.join(a.out, "prompts")
        self.commands = {}  # config -> one example command line

    def model_dir(self, model, config):
        """Specula's directory of 'target' or 'draft' for a configuration: the pair's, or its quantized copy."""
        b = bits_of(config)
        if b is None:
            return self.target_dir if model == "target" else self.draft_dir
        return os.path.join(self.quant_dir, f"{model}-{b}bit")

    def note(self, config, cmd):
        self.commands.setdefault(config, " ".join(shlex.quote(c) for c in cmd))


def run(cmd, timeout=900):
    env = dict(os.environ)
    env.setdefault("SPECULA_CACHE_DIR", os.path.join(ROOT, "target/specula-cache"))
    p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"command failed (exit {p.returncode}): {' '.join(cmd)}\n{p.stderr[-3000:]}")
    return p.stdout, p.stderr


def run_summarized(cmd, summary, attempts=4):
    """Runs a llama.cpp tool until its log holds the summary line. On a starved machine llama.cpp's asynchronous
    logger sometimes loses the lines still queued at exit (the summary among them), though the run succeeded."""
    for _ in range(attempts - 1):
        out, err = run(cmd)
        if re.search(summary, err):
            return out, err
        print(f"llama.cpp log lost its summary line; running again: {cmd[0]}", file=sys.stderr, flush=True)
    return run(cmd)


def llama_common(e, threads, n_predict):
    # f32 KV cache and no flash attention: the configuration in which llama.cpp's greedy ids equal Specula's.
    return ["-t", str(threads), "-tb", str(threads), "-c", "1024", "-n", str(n_predict), "--temp", "0",
            "-ctk", "f32", "-ctv", "f32", "-fa", "off", "--seed", "1"]


def gguf(e, model, config):
    """The GGUF file of 'target' or 'draft' for a configuration: f32, or Q8_0 / Q4_0 for the quantized ones."""
    b = bits_of(config)
    return os.path.join(e.a.gguf_dir, f"{model}-{LLAMA_QUANT[b].lower() if b else 'f32'}.gguf")


def llama_plain(e, prompt_file, threads, config="llama.cpp plain"):
    cmd = [os.path.join(e.bin, "llama-completion"), "-m", gguf(e, "target", config), "-f", prompt_file, "-no-cnv",
           "--no-display-prompt", *llama_common(e, threads, e.a.max_new_tokens)]
    e.note(config, cmd)
    out, err = run_summarized(cmd, r"(?<!prompt )eval time =")
    m = re.search(r"(?<!prompt )eval time =\s*([\d.]+) ms /\s*(\d+) runs", err)
    if not m:
        raise RuntimeError(f"no 'eval time' line in llama-completion's output:\n{err[-2000:]}")
    ms, runs = float(m.group(1)), int(m.group(2))
    return {"text": out, "decode_tokens": runs, "decode_s": ms / 1e3}


def sampled_ids(log):
    """Token ids llama-lookup / llama-speculative sampled, in order, from their debug lines (-lv 5)."""
    ids = re.findall(r"the sampled target token (?:matches the \d+th drafted token (?:of sequence \d+ )?)?\((\d+), '",
                     log)
    if not ids:
        raise RuntimeError("no 'the sampled target token' debug lines in the log (needs -lv 5)")
    return [int(i) for i in ids]


def llama_loop_tool(e, tool, config, prompt_file, threads, extra=(), debug=False):
    # These tools stop once they have sampled more than -n tokens: ask for one fewer to get max_new_tokens.
    cmd = [os.path.join(e.bin, tool), "-m", gguf(e, "target", config), "-f", prompt_file,
           *llama_common(e, threads, e.a.max_new_tokens - 1), *extra]
    if tool == "llama-speculative":
        cmd += ["-md", gguf(e, "draft", config), "-td", "1", "-tbd", "1", "-ctkd", "f32", "-ctvd", "f32"]
    if debug:
        cmd += ["-lv", "5"]
    else:
        e.note(config, cmd)
    out, err = run_summarized(cmd, r"decoded\s+\d+ tokens in") if not debug else run(cmd)
    m = re.search(r"decoded\s+(\d+) tokens in\s+([\d.]+) seconds", err)
    if not m and debug:  # the logger dropped its last lines (see llama_ids): keep the ids it logged
        return {"text": out, "ids": sampled_ids(err) if "sampled target token" in err else []}
    if not m:
        raise RuntimeError(f"no 'decoded ... tokens' line in {tool}'s output:\n{err[-2000:]}")
    sampled, secs = int(m.group(1)), float(m.group(2))
    acc = re.search(r"n_accept\s*=\s*(\d+)", err)
    drafted = re.search(r"n_drafted\s*=\s*(\d+)", err)
    enc = re.search(r"encoded\s+(\d+) tokens", err)
    r = {"text": out, "decode_tokens": sampled - 1, "decode_s": secs, "sampled": sampled,
         "prompt_tokens": int(enc.group(1)) if enc else None,
         "accepted": int(acc.group(1)) if acc else None, "drafted": int(drafted.group(1)) if drafted else None}
    if debug:
        r["ids"] = sampled_ids(err)
    return r


def specula(e, config, prompt_file, threads):
    cmd = ["java", "-jar", e.a.jar, "generate", "--json", "--target", e.model_dir("target", config),
           "--draft", SPECULA_DRAFT[base_config(config)],
           "--threads", str(threads), "--draft-threads", "1", "--max-new-tokens", str(e.a.max_new_tokens),
           "--temperature", "0", "--prompt-file", prompt_file]
    if not e.a.cold:
        cmd.append("--warm-up")
    if e.a.optimized_model_cache:
        cmd += ["--optimized-model-cache", e.a.optimized_model_cache]
    if base_config(config) in ("Specula + draft", "Specula lookup + draft"):
        cmd[cmd.index("--draft") + 2:cmd.index("--draft") + 2] = ["--draft-model", e.model_dir("draft", config)]
    e.note(config, cmd)
    out, _ = run(cmd)
    j = json.loads(out)
    m = j["metrics"]
    return {"text": j["text"], "ids": j["token_ids"], "prompt_tokens": j["prompt_tokens"],
            "decode_tokens": m["generated_tokens"], "decode_s": (m["total_ms"] - m["prefill_ms"]) / 1e3,
            "accepted": m["accepted_tokens"], "drafted": m["drafted_tokens"]}


def measure(e, config, prompt_file, threads):
    if config.startswith("llama.cpp plain"):
        return llama_plain(e, prompt_file, threads, config)
    if config.startswith("llama.cpp + draft"):
        return llama_loop_tool(e, "llama-speculative", config, prompt_file, threads)
    if config.startswith("llama.cpp lookup"):
        return llama_loop_tool(e, "llama-lookup", config, prompt_file, threads)
    return specula(e, config, prompt_file, threads)


def load_prompts(spec, out_dir):
    with open(WORKLOADS, encoding="utf-8") as f:
        w = json.load(f)
    prompts = []
    os.makedirs(out_dir, exist_ok=True)
    for part in spec.split(","):
        name, count = part.split(":")
        for i, text in enumerate(w[name][:int(count)]):
            path = os.path.join(out_dir, f"{name}-{i}.txt")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            prompts.append((f"{name}-{i}", path))
    return prompts


def convert(e):
    os.makedirs(e.a.gguf_dir, exist_ok=True)
    for src, dst in ((e.target_dir, gguf(e, "target", None)), (e.draft_dir, gguf(e, "draft", None))):
        if not os.path.exists(dst):
            run([PY, os.path.join(ROOT, "benchmarks/peer/onnx_to_gguf.py"), "--llama-cpp", e.a.llama_cpp, src, dst])
        for b in sorted(set(e.a.quantized) | ({8} if e.a.q8 else set())):
            q = dst.replace("-f32.gguf", f"-{LLAMA_QUANT[b].lower()}.gguf")
            if not os.path.exists(q):
                run([os.path.join(e.bin, "llama-quantize"), dst, q, LLAMA_QUANT[b]])
    for b in e.a.quantized:
        for model, src in (("target", e.target_dir), ("draft", e.draft_dir)):
            dst = e.model_dir(model, f"({b}-bit)")
            if not os.path.exists(os.path.join(dst, "model.onnx")):
                run([PY, os.path.join(ROOT, "tools/model-factory/quantize_nbits.py"), "--bits", str(b),
                     "--accuracy-level", str(ACCURACY_LEVEL[b]), src, dst])


def llama_ids(e, tool, path, threads, extra=()):
    """llama.cpp's sampled ids from a debug run (-lv 5). llama.cpp's asynchronous logger can drop the last queued
    lines at exit when the debug flood has filled its queue (and then the closing summary too), so this retries
    up to 3 times for a complete list and otherwise returns the longest prefix it got."""
    best = []
    for _ in range(3):
        ids = llama_loop_tool(e, tool, None, path, threads, extra, debug=True)["ids"]
        if len(ids) > len(best):
            best = ids
        if len(best) >= e.a.max_new_tokens:
            break
    return best[:e.a.max_new_tokens]


def validate(e, prompts, threads):
    """Greedy outputs. llama.cpp's ids come from the debug logs of llama-lookup with --spec-draft-n-max 0 (plain
    one-token-at-a-time decoding), llama-lookup and llama-speculative; each must equal Specula's plain greedy ids
    (over the tokens its log kept, reported). llama-completion's text (what is timed as llama.cpp plain) must equal
    Specula's plain text exactly; Specula's draft-model and lookup ids must equal its plain ids."""
    rows = []
    ok = True
    for name, path in prompts:
        sp = specula(e, "Specula plain", path, threads)
        row = {"prompt": name, "tokens": len(sp["ids"])}
        for label, tool, extra in (("llama.cpp plain", "llama-lookup", ("--spec-draft-n-max", "0")),
                                   ("llama-speculative", "llama-speculative", ()),
                                   ("llama-lookup", "llama-lookup", ())):
            ids = llama_ids(e, tool, path, threads, extra)
            row[f"{label} ids == Specula plain ids (tokens compared)"] = [ids == sp["ids"][:len(ids)] and len(ids) > 0,
                                                                         len(ids)]
        text = llama_plain(e, path, threads)["text"]
        # llama-completion (--no-display-prompt) prints what it generated, then a blank line.
        row["llama-completion text == Specula plain text"] = text in (sp["text"] + "\n\n", sp["text"])
        for config in ("Specula + draft", "Specula lookup", "Specula lookup + draft"):
            row[config + " ids == plain"] = specula(e, config, path, threads)["ids"] == sp["ids"]
        for b in e.a.quantized:  # lossy against float32; each quantized pair must be lossless against itself
            qp = specula(e, f"Specula plain ({b}-bit)", path, threads)["ids"]
            for config in ("Specula + draft", "Specula lookup", "Specula lookup + draft"):
                row[f"{config} ({b}-bit) ids == Specula plain ({b}-bit)"] = \
                    specula(e, f"{config} ({b}-bit)", path, threads)["ids"] == qp
        ok &= all(v[0] if isinstance(v, list) else v for k, v in row.items() if "==" in k)
        print(json.dumps(row), file=sys.stderr, flush=True)
        rows.append(row)
    return ok, rows


def configs_of(a):
    configs = LLAMA_CONFIGS + SPECULA_CONFIGS
    if a.q8 and 8 not in a.quantized:
        configs.append("llama.cpp plain (Q8_0)")
    for b in a.quantized:
        configs += [f"{c} ({LLAMA_QUANT[b]})" for c in LLAMA_CONFIGS] + [f"{c} ({b}-bit)" for c in SPECULA_CONFIGS]
    return configs


def default_llama_bin():
    native = os.path.join(ROOT, "target/peer/llama.cpp/build/bin")
    if os.path.exists(os.path.join(native, "llama-lookup")):
        return native
    return os.path.join(ROOT, "target/peer/prebuilt/bin")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--llama-bin", default=default_llama_bin(),
                    help="llama.cpp tools (default: the native build, else the prebuilt-linked one)")
    ap.add_argument("--llama-cpp", default=os.path.join(ROOT, "target/peer/llama.cpp"))
    ap.add_argument("--gguf-dir", default=os.path.join(ROOT, "target/peer/gguf"))
    ap.add_argument("--jar", default=os.path.join(ROOT, "server/target/specula.jar"))
    ap.add_argument("--pair", default=PAIR, help="a folder with target/ and draft/ model directories (default: the"
                    " embedded pair; e.g. target/twin for the realistic-cost twin, with its own --gguf-dir)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--prompts", default="code:8,edit:6", help="workload:count,... from the bench's workloads.json")
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--out", default=os.path.join(ROOT, "target/peer/results"))
    ap.add_argument("--skip-validation", action="store_true")
    ap.add_argument("--cold", action="store_true",
                    help="time Specula's first generation in each JVM (default: after generate --warm-up, whose two"
                         " short runs compile the Java side and warm ONNX Runtime)")
    ap.add_argument("--q8", action="store_true", help="also run llama.cpp plain on the Q8_0 target (llama-quantize)")
    ap.add_argument("--quantized", default="", help="bit widths, e.g. 8,4: also run all three modes of both engines"
                    " on 8-bit / 4-bit weights (llama.cpp Q8_0 / Q4_0, Specula MatMulNBits blocks of 32)")
    ap.add_argument("--optimized-model-cache", help="passed to every Specula run: a 1B model then loads in seconds"
                    " after its first load (load time is not timed either way)")
    ap.add_argument("--validate-only", action="store_true")
    ap.add_argument("--table-only", action="store_true", help="rewrite table.md from the raw.jsonl of --out")
    a = ap.parse_args()
    a.quantized = [int(b) for b in a.quantized.split(",") if b]
    if any(b not in LLAMA_QUANT for b in a.quantized):
        sys.exit(f"--quantized takes bit widths among {sorted(LLAMA_QUANT)}, got {a.quantized}")
    e = Env(a)
    os.makedirs(a.out, exist_ok=True)
    if a.table_only:
        write_table(e, os.path.join(a.out, "raw.jsonl"), [int(t) for t in a.threads.split(",")], configs_of(a))
        return
    convert(e)
    prompts = load_prompts(a.prompts, e.prompt_dir)
    threads = [int(t) for t in a.threads.split(",")]
    if not a.skip_validation:
        ok, rows = validate(e, prompts, threads[-1])
        with open(os.path.join(a.out, "validation.json"), "w") as f:
            json.dump(rows, f, indent=1)
        if not ok:
            sys.exit("validation failed: greedy outputs differ (see validation.json)")
        if a.validate_only:
            return
    configs = configs_of(a)
    raw_path = os.path.join(a.out, "raw.jsonl")
    started = time.time()
    with open(raw_path, "w") as raw:
        for rep in range(a.repeats):
            order = configs[rep % len(configs):] + configs[:rep % len(configs)]
            for name, path in prompts:
                for t in threads:
                    for config in order:
                        r = measure(e, config, path, t)
                        r.pop("ids", None)
                        r.update(repeat=rep, prompt=name, threads=t, config=config)
                        raw.write(json.dumps(r) + "\n")
                        raw.flush()
            print(f"repeat {rep + 1}/{a.repeats} done after {time.time() - started:.0f} s", file=sys.stderr, flush=True)
    write_table(e, raw_path, threads, configs)


def generated_text(r, prompt_dir):
    """What a run generated, without the wrappers each tool prints around it."""
    t = r.get("text")
    if t is None or r["config"].startswith("Specula"):
        return t
    if r["config"].startswith("llama.cpp plain"):  # llama-completion: the text, then a blank line
        return t[:-2] if t.endswith("\n\n") else t
    with open(os.path.join(prompt_dir, r["prompt"] + ".txt"), encoding="utf-8") as f:
        head = "\n\n" + f.read()  # llama-lookup / llama-speculative echo the prompt and end with two blank lines
    t = t[len(head):] if t.startswith(head) else t
    return t[:-4] if t.endswith("\n\n\n\n") else t


def same_output_line(runs, prompt_dir):
    """Per configuration: the runs whose generated text equals Specula plain's on the same prompt (a prefix check
    for llama-speculative and llama-lookup, which check the token budget only after a whole accepted draft and so
    may overshoot it by a few tokens)."""
    ref = {(r["prompt"], r["config"]): r["text"] for r in runs if base_config(r["config"]) == "Specula plain"
           and "text" in r}
    counts = {}
    for r in runs:
        b = bits_of(r["config"])
        own = f"Specula plain ({b}-bit)" if b and r["config"].startswith("Specula") else "Specula plain"
        if (r["prompt"], own) not in ref or r.get("text") is None:
            continue
        expected = ref[r["prompt"], own]
        t = generated_text(r, prompt_dir)
        loop_tool = r["config"].startswith(("llama.cpp + draft", "llama.cpp lookup"))
        same = t.startswith(expected) if loop_tool else t == expected
        a, n = counts.get(r["config"], (0, 0))
        counts[r["config"]] = (a + same, n + 1)
    if not counts:
        return "Output texts were not recorded."
    return "Runs whose generated text equals Specula plain's on the same prompt (llama-speculative, llama-lookup:" \
        " starts with it): " + ", ".join(
        f"{c} {a}/{n}" for c, (a, n) in counts.items()) + " (Specula's n-bit configurations are compared with" \
        " Specula plain n-bit; llama.cpp's Q8_0 / Q4_0 with float32 Specula plain, which they are not expected to" \
        " match: other weights, and llama.cpp quantizes the activations too)."


def write_table(e, raw_path, threads, configs):
    runs = [json.loads(line) for line in open(raw_path)]
    # Per repeat: all prompts' decode tokens over all prompts' decode time; then the median over repeats.
    agg = {}
    for r in runs:
        k = (r["config"], r["threads"], r["repeat"])
        tok, s = agg.get(k, (0, 0.0))
        agg[k] = (tok + r["decode_tokens"], s + r["decode_s"])
    med = {}
    spread = {}
    for c in configs:
        for t in threads:
            vals = sorted(tok / s for (cc, tt, _), (tok, s) in agg.items() if cc == c and tt == t)
            med[c, t] = statistics.median(vals)
            spread[c, t] = (vals[0], vals[-1])
    lines = ["| threads | " + " | ".join(configs) + " |", "|---:|" + "---:|" * len(configs)]
    for t in threads:
        lines.append(f"| {t} | " + " | ".join(f"{med[c, t]:.0f}" for c in configs) + " |")
    lines += ["", "Range over repeats (min-max tokens/s):", "",
              "| threads | " + " | ".join(configs) + " |", "|---:|" + "---:|" * len(configs)]
    for t in threads:
        lines.append(f"| {t} | " + " | ".join(f"{spread[c, t][0]:.0f}-{spread[c, t][1]:.0f}" for c in configs) + " |")
    acc = {}
    for r in runs:
        if r.get("drafted"):
            a, d = acc.get(r["config"], (0, 0))
            acc[r["config"]] = (a + r["accepted"], d + r["drafted"])
    if acc:
        lines += ["", "Draft acceptance over all runs: " + ", ".join(
            f"{c} {a / d:.2f} ({a} of {d})" for c, (a, d) in sorted(acc.items()))]
    cmd_path = os.path.join(e.a.out, "commands.json")
    if e.commands:
        with open(cmd_path, "w") as f:
            json.dump(e.commands, f, indent=1)
    elif os.path.exists(cmd_path):
        with open(cmd_path) as f:
            e.commands = json.load(f)
    lines += ["", same_output_line(runs, e.prompt_dir)]
    lines += ["", "Commands (one prompt, one thread count shown):", "", "```"]
    lines += [f"# {c}\n{cmd}" for c, cmd in e.commands.items()] + ["```"]
    table = "\n".join(lines) + "\n"
    with open(os.path.join(e.a.out, "table.md"), "w") as f:
        f.write(table)
    print(table)


if __name__ == "__main__":
    main()
