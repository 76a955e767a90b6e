#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60) on the stable toolchain.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Installs cargo-fuzz if it is missing. Builds without a sanitizer (`-s none`, which works on
# stable; RUSTC_BOOTSTRAP=1 covers the few nightly flags cargo-fuzz still passes). New inputs
# libFuzzer finds go to a scratch directory, not to the committed seed corpora under
# fuzz/corpus/; crashes land in fuzz/artifacts/TARGET/ and make this script fail. Turn each
# crash into a regression input: copy it into fuzz/corpus/TARGET/ (tests/corpus_replay.rs in
# vrrp-packet replays every corpus file in `cargo test`) and fix the bug.
set -euo pipefail
cd "$(dirname "$0")"

SECONDS_EACH="${1:-60}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(decode inspect_frame roundtrip)

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

SCRATCH="$(mktemp -d /tmp/vrrp-fuzz.XXXXXX)"
trap 'rm -rf "$SCRATCH"' EXIT

status=0
for target in "${TARGETS[@]}"; do
    echo "=== fuzz $target for ${SECONDS_EACH}s"
    mkdir -p "$SCRATCH/$target"
    if ! cargo fuzz run -s none --release "$target" "$SCRATCH/$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_EACH" -max_len=4200 -print_final_stats=1 \
        2>&1 | tee "$SCRATCH/$target.log" | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::new_units_added|==[0-9]+==|.*panicked)'; then
        :
    fi
    if grep -qE 'panicked|ERROR: libFuzzer|deadly signal' "$SCRATCH/$target.log"; then
        echo "fuzz target $target found a crash: see fuzz/artifacts/$target/" >&2
        tail -30 "$SCRATCH/$target.log" >&2
        status=1
    fi
done
exit "$status"
