#!/usr/bin/env bash
# Model-checks gofer's wakeup protocols (loom-tests/tests/*.rs) with loom.
#
# Usage, from anywhere:   loom-tests/run.sh [cargo test args, e.g. --test idle or a test-name filter]
# See each model's execution count and time: RUST_TEST_NOCAPTURE=1 loom-tests/run.sh
# Deeper search (much slower): LOOM_MAX_PREEMPTIONS=3 loom-tests/run.sh
#
# Builds into target/loom so the --cfg loom build does not invalidate the
# normal one.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg loom"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
exec cargo test -p loom-tests --release --target-dir target/loom "$@" -- --test-threads=1
