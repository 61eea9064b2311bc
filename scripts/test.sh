#!/usr/bin/env bash
# The project's test command (README, CI). It brings what the suite needs and is missing, then runs every test:
#   - Debian packages: chromium and chromium-driver (browser tests), docker-compose (compose-file test),
#     python3-venv (the Python client's venv); as root with apt-get, else with `sudo -n`
#   - .venv/ and tests/conformance/node_modules/ with the official Kaltura clients (scripts/setup-test-deps.sh)
# Nothing already there is installed again. Extra arguments go to `cargo test` (`scripts/test.sh emulator` runs only
# the emulator tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Each needed command and the Debian package that brings it.
needed=(chromium:chromium chromedriver:chromium-driver docker-compose:docker-compose)
missing=()
for pair in "${needed[@]}"; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
# Debian's own python3 needs python3-venv for `python3 -m venv` (a python3 built elsewhere carries ensurepip).
if [ ! -x .venv/bin/python ] && ! python3 -c 'import ensurepip' 2>/dev/null; then
    missing+=(python3-venv)
fi

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        as_root=()
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        as_root=(sudo -n)
    else
        echo "The tests need these Debian packages: ${missing[*]}. Install them once with:" >&2
        echo "  sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "== Installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

scripts/setup-test-deps.sh

exec cargo test --locked "$@"
