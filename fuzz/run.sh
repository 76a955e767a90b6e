#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60) on the stable toolchain, one at a time.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#   FUZZ_MERGE=1 nice -n 19 fuzz/run.sh 600      # what was run before a release: see below
#
# Installs cargo-fuzz if it is missing. Builds without a sanitizer (`-s none`, which works on
# stable; RUSTC_BOOTSTRAP=1 covers the few nightly flags cargo-fuzz still passes). New inputs
# libFuzzer finds go to a scratch directory, not to the committed seed corpora under
# fuzz/corpus/; crashes land in fuzz/artifacts/TARGET/ and make this script fail. Turn each
# crash into a regression input: copy it into fuzz/corpus/TARGET/ (the corpus_replay tests of
# vrrp-packet, vrrp-config, vrrp-runtime and vrrp-sim replay every corpus file in `cargo test`)
# and fix the bug. With FUZZ_MERGE=1 the new inputs are added to fuzz/corpus/TARGET/ and the
# corpus is minimised (`cargo fuzz cmin`), so that what is committed stays small.
set -euo pipefail
cd "$(dirname "$0")"

SECONDS_EACH="${1:-60}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(decode inspect_frame roundtrip engine_sequence config_parse keepalived_import control_request)

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

SCRATCH="$(mktemp -d /tmp/vrrp-fuzz.XXXXXX)"
trap 'rm -rf "$SCRATCH"' EXIT

status=0
for target in "${TARGETS[@]}"; do
    echo "=== fuzz $target for ${SECONDS_EACH}s"
    mkdir -p "$SCRATCH/$target" "corpus/$target"
    case "$target" in
        config_parse | keepalived_import) max_len=16384 ;; # whole config files
        control_request) max_len=512 ;;                    # the daemon reads 256 bytes
        *) max_len=4200 ;;                                 # a frame with 255 IPv6 addresses
    esac
    # -timeout: an input that takes 10 s (an include explosion, say) is a bug too.
    if ! cargo fuzz run -s none --release "$target" "$SCRATCH/$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_EACH" -max_len="$max_len" -timeout=10 -print_final_stats=1 \
        2>&1 | tee "$SCRATCH/$target.log" | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::new_units_added|==[0-9]+==|.*panicked)'; then
        :
    fi
    if grep -qE 'panicked|ERROR: libFuzzer|deadly signal' "$SCRATCH/$target.log"; then
        echo "fuzz target $target found a crash: see fuzz/artifacts/$target/" >&2
        tail -30 "$SCRATCH/$target.log" >&2
        status=1
    fi
    # FUZZ_LOGS=DIR keeps each target's libFuzzer log (the numbers docs/security.md quotes).
    if [ -n "${FUZZ_LOGS:-}" ]; then
        mkdir -p "$FUZZ_LOGS" && cp "$SCRATCH/$target.log" "$FUZZ_LOGS/$target.log"
    fi
    if [ "${FUZZ_MERGE:-0}" = 1 ]; then
        before=$(ls "corpus/$target" | wc -l)
        cp -n "$SCRATCH/$target"/* "corpus/$target"/ 2>/dev/null || true
        # Edge coverage only (-use_counters=0): the committed corpus keeps every edge reached
        # with a few hundred files instead of one per hit-count bucket.
        cargo fuzz cmin -s none --release "$target" "corpus/$target" -- -max_len="$max_len" -use_counters=0 >"$SCRATCH/$target.cmin.log" 2>&1 \
            || { echo "cmin of $target failed:" >&2; tail -20 "$SCRATCH/$target.cmin.log" >&2; status=1; }
        # cmin renames what it keeps and drops what adds no edge: put the committed files (the
        # named seeds and regression-* crash inputs) back.
        if git rev-parse --git-dir >/dev/null 2>&1; then
            git ls-files -d "corpus/$target" | xargs -r git checkout --
        fi
        echo "corpus/$target: $before files before, $(ls "corpus/$target" | wc -l) after merge and cmin ($(du -sk "corpus/$target" | cut -f1) KiB)"
    fi
done
exit "$status"
