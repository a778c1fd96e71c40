#!/usr/bin/python3
"""Writes the benchmark workloads' prompts (server/src/main/resources/dev/specula/cli/bench/workloads.json)
from held-out files of the corpus (files the models never trained on):

  code     short prompts (a signature and its docstring's first line) to complete;
  edit     a whole function followed by a request for it back with a name changed, and the changed first line:
           the answer copies the input, where prompt lookup shines;
  sampled  short prompts continued with sampling at temperature 0.8.

Usage: /usr/bin/python3 tools/model-factory/make_bench_prompts.py OUT.json
"""
import ast
import json
import os
import re
import sys

ROOT = "/usr/lib/python3.11"
HELD_OUT = ["ipaddress.py", "pickletools.py", "asyncio/futures.py", "asyncio/taskgroups.py", "email/charset.py",
            "http/cookies.py", "lib2to3/refactor.py", "logging/config.py", "unittest/loader.py",
            "test/support/testresult.py", "lib2to3/main.py"]


def functions(path):
    src = open(os.path.join(ROOT, path), encoding="utf-8").read()
    lines = src.splitlines(keepends=True)
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.FunctionDef) and node.end_lineno:
            yield node, lines[node.lineno - 1:node.end_lineno]


def main(out):
    code, edit, sampled = [], [], []
    for path in HELD_OUT:
        for node, body in functions(path):
            text = "".join(body)
            if 3 <= len(body) <= 30 and ast.get_docstring(node) and len(code) < 16:
                header = body[0]
                doc = next((l for l in body[1:3] if '"""' in l), None)
                if doc is not None and len(header) < 90:
                    (code if len(code) <= len(sampled) else sampled).append(header + doc)
            if 12 <= len(body) <= 28 and len(text) < 1200 and len(edit) < 6 and not node.name.startswith("__"):
                new = node.name + "_v2"
                renamed_first = re.sub(r"\b%s\b" % re.escape(node.name), new, body[0], count=1)
                prompt = ("# Original version:\n" + text + "\n\n# The same function, renamed to " + new
                          + ", otherwise unchanged:\n" + renamed_first)
                edit.append(prompt)
    # No trailing newline: BPE merges a newline with the next line's indentation, so ending a prompt on a bare
    # newline would split a token the model always saw whole.
    code, edit, sampled = ([p.rstrip("\n") for p in ps] for ps in (code, edit, sampled))
    workloads = {
        "source": "held-out files of the corpus (Python 3.11 standard library, PSF license): " + ", ".join(HELD_OUT),
        "code": code[:8],
        "edit": edit[:6],
        "sampled": sampled[:8],
    }
    with open(out, "w") as f:
        json.dump(workloads, f, indent=1)
    print({k: len(v) for k, v in workloads.items() if k != "source"})


if __name__ == "__main__":
    main(sys.argv[1])
