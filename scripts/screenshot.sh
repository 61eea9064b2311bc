#!/usr/bin/env bash
# Regenerates the README's screenshot, docs/accounts.png, by running the browser test that takes it with
# MA_SCREENSHOT_DIR set. Test runs never write it (a test run must not change the tree), so this is the one way to
# update the picture: run it after changing how the Accounts page looks, review the image, commit it.
# Needs what the browser tests need: chromium and chromium-driver (scripts/test.sh installs them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

test_name=browser::the_readme_screenshot_shows_the_accounts_page_in_demo_mode
# A filter that matches no test passes silently; a file older than this marker means the picture was not taken.
marker=$(mktemp)
trap 'rm -f "$marker"' EXIT

MA_SCREENSHOT_DIR="$PWD/docs" cargo test --locked -p multi-account --test it -- --exact "$test_name"

if [ ! docs/accounts.png -nt "$marker" ]; then
    echo "docs/accounts.png was not written: is $test_name still the test's name?" >&2
    exit 1
fi
echo "Wrote docs/accounts.png; review it (e.g. git diff --stat docs/) and commit it with the change it shows."
