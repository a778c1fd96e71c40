"""The training corpus: the Python standard library sources that Debian ships (PSF license)."""
import hashlib
import json
import os
import random

DEFAULT_ROOT = "/usr/lib/python3.11"
# Vendored third-party code and generated tables are skipped: they are not representative Python.
SKIP_PARTS = ("site-packages", "dist-packages", "__pycache__", "lib2to3/tests/data", "test/tokenizedata",
              "test/encoded_modules", "test/test_tools", "idlelib/idle_test")


def list_files(root=DEFAULT_ROOT):
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if any(part in rel for part in SKIP_PARTS):
                continue
            files.append(path)
    return files


def load(root=DEFAULT_ROOT, held_out_fraction=0.03, seed=1234):
    """Returns (train_docs, held_out_docs, manifest). A document is one file's text."""
    files = list_files(root)
    docs = []
    manifest_files = []
    corpus_hash = hashlib.sha256()
    for path in files:
        with open(path, "rb") as f:
            raw = f.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if len(text.strip()) < 64:
            continue
        digest = hashlib.sha256(raw).hexdigest()
        corpus_hash.update(os.path.relpath(path, root).encode() + b"\0" + digest.encode() + b"\n")
        manifest_files.append({"path": os.path.relpath(path, root), "bytes": len(raw), "sha256": digest})
        docs.append(text)
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    n_held = max(1, int(len(docs) * held_out_fraction))
    held_idx = set(order[:n_held])
    train = [docs[i] for i in range(len(docs)) if i not in held_idx]
    held = [docs[i] for i in range(len(docs)) if i in held_idx]
    for i, entry in enumerate(manifest_files):
        entry["split"] = "held_out" if i in held_idx else "train"
    manifest = {
        "root": root,
        "license": "Python Software Foundation License (Python standard library sources, Debian package libpython3.11-stdlib)",
        "files": len(manifest_files),
        "bytes": sum(e["bytes"] for e in manifest_files),
        "sha256": corpus_hash.hexdigest(),
        "held_out_fraction": held_out_fraction,
        "split_seed": seed,
        "file_list": manifest_files,
    }
    return train, held, manifest


def write_manifest(manifest, path):
    with open(path, "w") as f:
        json.dump(manifest, f, indent=1)
