#!/usr/bin/env bash
# The project's test command (README, CI): installs the official Kaltura clients the conformance tests drive if
# they are missing or out of date, checks that the browser tests can find Chromium, then runs every test.
# Extra arguments go to `cargo test` (e.g. `scripts/test.sh emulator` runs only the emulator tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-test-deps.sh

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "The browser tests need Debian's chromium and chromium-driver: apt-get install chromium chromium-driver" >&2
    exit 1
fi

exec cargo test --locked "$@"
