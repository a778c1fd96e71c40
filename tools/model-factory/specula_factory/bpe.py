"""Byte-level BPE, trained here and written as a Hugging Face tokenizer.json.

Pre-tokenization is GPT-2's (the ByteLevel pre-tokenizer with use_regex=true), so the Hugging Face
tokenizers library (and DJL's binding of it) splits and merges exactly as this trainer does.
"""
import heapq
import json
from collections import Counter, defaultdict

import regex

GPT2_SPLIT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
EOS = "<|endoftext|>"


def bytes_to_unicode():
    """GPT-2's reversible map from bytes to printable unicode characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


BYTE_ENCODER = bytes_to_unicode()


def pre_tokenize(text):
    return ["".join(BYTE_ENCODER[b] for b in piece.encode("utf-8")) for piece in GPT2_SPLIT.findall(text)]


def train(docs, vocab_size=4096, min_frequency=2):
    """Learns vocab_size - 257 merges (256 byte symbols + the end-of-text token)."""
    word_counts = Counter()
    for doc in docs:
        word_counts.update(pre_tokenize(doc))
    alphabet = [BYTE_ENCODER[b] for b in range(256)]
    symbols = list(alphabet)  # id -> string
    sym_id = {s: i for i, s in enumerate(symbols)}
    words = []
    freqs = []
    for w, c in word_counts.items():
        words.append([sym_id[ch] for ch in w])
        freqs.append(c)
    pair_counts = defaultdict(int)
    where = defaultdict(set)
    for wi, w in enumerate(words):
        f = freqs[wi]
        for a, b in zip(w, w[1:]):
            pair_counts[(a, b)] += f
            where[(a, b)].add(wi)

    def key(pair):
        return (symbols[pair[0]], symbols[pair[1]])

    heap = [(-c, key(p), p) for p, c in pair_counts.items()]
    heapq.heapify(heap)
    merges = []
    n_merges = vocab_size - 256 - 1
    while len(merges) < n_merges and heap:
        neg, _, pair = heapq.heappop(heap)
        if pair_counts.get(pair, 0) != -neg:
            continue  # stale entry
        if -neg < min_frequency:
            break
        a, b = pair
        new = len(symbols)
        symbols.append(symbols[a] + symbols[b])
        merges.append((symbols[a], symbols[b]))
        changed = set()
        for wi in list(where[pair]):
            w = words[wi]
            f = freqs[wi]
            for p in zip(w, w[1:]):
                pair_counts[p] -= f
                changed.add(p)
            out = []
            i = 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            words[wi] = out
            for p in zip(out, out[1:]):
                pair_counts[p] += f
                where[p].add(wi)
                changed.add(p)
        del where[pair]
        pair_counts.pop(pair, None)
        for p in changed:
            c = pair_counts.get(p, 0)
            if c > 0:
                heapq.heappush(heap, (-c, key(p), p))
            elif p in pair_counts:
                del pair_counts[p]
    vocab = {s: i for i, s in enumerate(symbols)}
    vocab[EOS] = len(symbols)
    return vocab, merges


class Encoder:
    """Applies learned merges exactly like the Hugging Face BPE model (lowest rank first)."""

    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        self.cache = {}
        self.eos_id = vocab[EOS]

    def _bpe(self, word):
        cached = self.cache.get(word)
        if cached is not None:
            return cached
        parts = list(word)
        while len(parts) > 1:
            best = None
            best_rank = None
            for i in range(len(parts) - 1):
                r = self.ranks.get((parts[i], parts[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = i, r
            if best is None:
                break
            a, b = parts[best], parts[best + 1]
            out = []
            i = 0
            while i < len(parts):
                if i + 1 < len(parts) and parts[i] == a and parts[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(parts[i])
                    i += 1
            parts = out
        ids = [self.vocab[p] for p in parts]
        self.cache[word] = ids
        return ids

    def encode(self, text):
        ids = []
        for w in pre_tokenize(text):
            ids.extend(self._bpe(w))
        return ids

    def decode(self, ids):
        inv = {v: k for k, v in self.vocab.items()}
        byte_decoder = {c: b for b, c in BYTE_ENCODER.items()}
        out = bytearray()
        for i in ids:
            if i == self.eos_id:
                continue
            out.extend(byte_decoder[c] for c in inv[i])
        return out.decode("utf-8", errors="replace")


def tokenizer_json(vocab, merges):
    eos_id = vocab[EOS]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": eos_id, "content": EOS, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": [a + " " + b for a, b in merges]},
    }


def write_tokenizer(vocab, merges, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(vocab, merges), f, ensure_ascii=False)


def read_tokenizer(path):
    with open(path, encoding="utf-8") as f:
        tj = json.load(f)
    merges = [tuple(m.split(" ")) for m in tj["model"]["merges"]]
    vocab = dict(tj["model"]["vocab"])
    for t in tj["added_tokens"]:
        vocab[t["content"]] = t["id"]
    return vocab, merges
