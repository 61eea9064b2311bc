#!/usr/bin/env bash
# Regenerates the README's screenshots (the Accounts page on a desktop and a phone, its top and its cards, the parents and their overview, an account's details, Usage on both, an
# import's preview: the files in `pictures` below) by running the browser test that takes them with MA_SCREENSHOT_DIR
# set. Test runs never write them (a test run must not change
# the tree), so this is the one way to update the pictures: run it after changing how these pages look, review
# the images, commit them.
# Needs what the browser tests need: chromium and chromium-driver (scripts/test.sh installs them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

test_name=browser::the_readme_screenshots_show_the_main_pages_on_a_desktop_and_a_phone
pictures=(docs/accounts.png docs/parents.png docs/overview.png docs/accounts-phone.png docs/accounts-phone-cards.png docs/account-details.png docs/usage.png
    docs/usage-phone.png docs/import.png)
# A filter that matches no test passes silently; a file older than this marker means the picture was not taken.
marker=$(mktemp)
trap 'rm -f "$marker"' EXIT

MA_SCREENSHOT_DIR="$PWD/docs" cargo test --locked -p multi-account --test it -- --exact "$test_name"

for picture in "${pictures[@]}"; do
    if [ ! "$picture" -nt "$marker" ]; then
        echo "$picture was not written: is $test_name still the test's name?" >&2
        exit 1
    fi
done
echo "Wrote ${pictures[*]}; review them (e.g. git diff --stat docs/) and commit them with the change they show."
