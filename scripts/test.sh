#!/usr/bin/env bash
# The project's test command (README, CI). It checks formatting and clippy's lints, brings what the suite needs and is
# missing, then runs every test:
#   - Debian packages: chromium and chromium-driver (browser tests), docker-compose (compose-file test),
#     python3-venv (the Python client's venv), postgresql (the database tests' second engine); as root with apt-get,
#     else with `sudo -n`
#   - .venv/ and tests/conformance/node_modules/ with the official Kaltura clients (scripts/setup-test-deps.sh)
#   - a throwaway PostgreSQL cluster on a free loopback port, for as long as the tests run, named to them by
#     MA_TEST_POSTGRES_URL (unless that is set already: then the tests use that server)
# Nothing already there is installed again. Extra arguments go to `cargo test` (`scripts/test.sh emulator` runs only
# the emulator tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The lint gate first: unformatted code or a clippy warning stops the run with its own message.
echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy --all-targets --workspace -- -D warnings"
cargo clippy --locked --all-targets --workspace -- -D warnings

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
# The PostgreSQL server's programs (Debian keeps them off PATH; the client package alone has the directory without
# initdb, so initdb is what is looked for).
pg_bin() { ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 | xargs -r dirname; }
if [ -z "${MA_TEST_POSTGRES_URL:-}" ] && [ -z "$(pg_bin)" ]; then
    missing+=(postgresql)
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

if [ -z "${MA_TEST_POSTGRES_URL:-}" ]; then
    bin="$(pg_bin)"
    cluster="$(mktemp -d /tmp/ma-test-postgres.XXXXXX)"
    # initdb refuses to run as root: the cluster then belongs to Debian's postgres user.
    run_as=()
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$cluster"
        run_as=(runuser -u postgres --)
    fi
    stop_cluster() {
        "${run_as[@]}" "$bin/pg_ctl" -D "$cluster/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$cluster"
    }
    trap stop_cluster EXIT
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    echo "== PostgreSQL: a throwaway cluster on 127.0.0.1:$port"
    "${run_as[@]}" "$bin/initdb" -D "$cluster/data" -U ma_test --auth=trust --no-sync >/dev/null
    "${run_as[@]}" "$bin/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w -o \
        "-p $port -k $cluster -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=500" start >/dev/null
    export MA_TEST_POSTGRES_URL="postgres://ma_test@127.0.0.1:$port/postgres"
fi

cargo test --locked "$@"
