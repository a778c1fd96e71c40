#!/usr/bin/python3
"""Compares plain (greedy) decoding's outputs of two `specula bench --json` runs prompt by prompt: the check that a
realistic-cost twin (make_twin.py) generates exactly what the pair it was made from generates on the bench prompts.
Prints, per workload, how many prompts give identical token ids and where the first differing ones part; exits 1 if
any greedy output differs. Runs with different --max-new-tokens compare over the shorter length (greedy decoding's
first n tokens do not depend on how many follow).

Usage: /usr/bin/python3 tools/model-factory/compare_plain_tokens.py original.json twin.json
"""
import json
import sys


def plain_tokens(path):
    with open(path) as f:
        run = json.load(f)
    out = {}
    for w in run["workloads"]:
        if w["temperature"] != 0.0:
            continue  # sampled workloads: outputs depend on the seed, not only on the function
        if "plain_tokens" not in w:
            raise SystemExit(f"{path}: workload {w['name']} has no plain_tokens (written by specula bench --json)")
        out[w["name"]] = w["plain_tokens"]
    return out


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    a, b = plain_tokens(sys.argv[1]), plain_tokens(sys.argv[2])
    differs = False
    for name in a:
        if name not in b:
            print(f"{name}: only in {sys.argv[1]}")
            continue
        if len(a[name]) != len(b[name]):
            raise SystemExit(f"{name}: {len(a[name])} prompts against {len(b[name])}")
        same = 0
        compared = 0
        for i, (x, y) in enumerate(zip(a[name], b[name])):
            n = min(len(x), len(y))
            x, y = x[:n], y[:n]
            compared += n
            if x == y:
                same += 1
                continue
            differs = True
            at = next(j for j, (u, v) in enumerate(zip(x, y)) if u != v)
            print(f"{name} prompt {i}: first difference at generated token {at} of {n}")
        print(f"{name}: {same} of {len(a[name])} prompts identical ({compared} tokens compared)")
    sys.exit(1 if differs else 0)


if __name__ == "__main__":
    main()
