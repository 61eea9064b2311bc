#!/usr/bin/env bash
# The project's test command (README, CI): installs the official Kaltura clients the conformance tests drive if
# they are missing or out of date, checks the system tools the browser and compose tests use, then runs every test.
# Extra arguments go to `cargo test` (e.g. `scripts/test.sh emulator` runs only the emulator tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-test-deps.sh

missing=""
for tool in chromium chromedriver docker-compose; do
    command -v "$tool" >/dev/null || missing="$missing $tool"
done
if [ -n "$missing" ]; then
    echo "Missing:$missing. The browser tests need Chromium and its driver, the compose-file test docker-compose:" >&2
    echo "  apt-get install chromium chromium-driver docker-compose" >&2
    exit 1
fi

exec cargo test --locked "$@"
