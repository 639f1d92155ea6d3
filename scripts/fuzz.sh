#!/usr/bin/env bash
# Bounded fuzzing of the provider's parsers of untrusted input (docs/fuzzing.md).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   FUZZ_MODE=ci scripts/fuzz.sh 15        # what .ci/run does
#
# 1. replays the committed seeds and kept crashes (cargo test in fuzz/, no libFuzzer);
# 2. builds every target once (cargo fuzz: release, AddressSanitizer, fuzz/target);
# 3. runs each target for SECONDS_PER_TARGET (default 60), seeded from fuzz/corpus/<target>/
#    and fuzz/regressions/<target>/; new inputs go to fuzz/target/corpus/<target>/ (not
#    committed).
# FUZZ_MODE=ci trades depth for a cold build CI can afford (3.5 min instead of the better part
# of an hour on 2 cores): no sanitizer and no optimisation (`--dev -s none`; the Rust code is
# memory-safe, the C of SQLite and aws-lc goes unsanitised), and no separate replay build: the
# kept crashes are given to libFuzzer as a corpus, which runs every one of them first.
# A crash (panic, sanitizer report, out-of-memory, timeout) is copied into
# fuzz/regressions/<target>/ and the script exits non-zero once every target has run.
# Commit what lands in fuzz/regressions/: tests/replay.rs replays it from then on.
set -euo pipefail

cd "$(dirname "$0")/.."

SECONDS_PER_TARGET="${1:-60}"
shift || true
CARGO_FUZZ_VERSION=0.13.1

# cargo-fuzz drives rustc with nightly-only flags (-Zsanitizer=address, and the sancov
# instrumentation options). Only the stable toolchain is installed here and none can be
# fetched: RUSTC_BOOTSTRAP=1 lets the stable compiler accept -Z flags. It is given to the
# cargo-fuzz commands only (their own target dir, fuzz/target): cargo counts it in its
# fingerprints, so setting it for the replay test too would rebuild that from scratch.
fuzz() { RUSTC_BOOTSTRAP=1 cargo fuzz "$@"; }

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

bash scripts/openssl.sh  # the targets link idp, hence webauthn-rs's OpenSSL
started=$SECONDS
build_flags=()
if [ "${FUZZ_MODE:-}" = ci ]; then
    build_flags=(--dev -s none)
    echo "== CI mode: no sanitizer, no optimisation; regressions replayed as a corpus"
else
    echo "== replaying seeds and regressions (cargo test in fuzz/)"
    cargo test --manifest-path fuzz/Cargo.toml --locked
fi

echo "== building the fuzz targets ${build_flags[*]:-(release, AddressSanitizer)}"
build_started=$SECONDS
fuzz build --fuzz-dir fuzz "${build_flags[@]}"
echo "built in $((SECONDS - build_started)) s"

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(fuzz list --fuzz-dir fuzz)
fi

failed=()
mkdir -p fuzz/target/logs
for target in "${targets[@]}"; do
    work="fuzz/target/corpus/$target"
    artifacts="fuzz/target/artifacts/$target"
    log="fuzz/target/logs/$target.log"
    mkdir -p "$work" "$artifacts" "fuzz/corpus/$target"
    seeds=("fuzz/corpus/$target")
    [ -d "fuzz/regressions/$target" ] && seeds+=("fuzz/regressions/$target")
    rm -f "$artifacts"/*
    echo "== $target: ${SECONDS_PER_TARGET} s"
    # The whole-request targets keep a provider (SQLite, tokio, connection pool) alive across
    # inputs, which LeakSanitizer would report on exit: leaks are not looked for there.
    leaks=1
    case "$target" in http_*) leaks=0 ;; esac
    # -timeout: the first input also starts the provider (key generation, migrations).
    if fuzz run --fuzz-dir fuzz "${build_flags[@]}" "$target" "$work" "${seeds[@]}" -- \
        -max_total_time="$SECONDS_PER_TARGET" \
        -max_len=4096 \
        -timeout=30 \
        -rss_limit_mb=2048 \
        -malloc_limit_mb=512 \
        -detect_leaks="$leaks" \
        -print_final_stats=1 \
        -artifact_prefix="$artifacts/" >"$log" 2>&1; then
        grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true
        grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$log" || true
    else
        echo "!! $target FAILED (log: $log)"
        tail -40 "$log"
        mkdir -p "fuzz/regressions/$target"
        for found in "$artifacts"/*; do
            [ -f "$found" ] || continue
            cp "$found" "fuzz/regressions/$target/"
            echo "   kept fuzz/regressions/$target/$(basename "$found")"
        done
        failed+=("$target")
    fi
done

echo "== done in $((SECONDS - started)) s (build included)"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "crashes in: ${failed[*]} (inputs kept in fuzz/regressions/; replay: cargo test --manifest-path fuzz/Cargo.toml)"
    exit 1
fi
