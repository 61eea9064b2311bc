#!/usr/bin/env bash
# Installs what the conformance tests (tests/it/conformance.rs) run: the official Kaltura clients.
#   - .venv/ with tests/conformance/requirements.txt (Python client, XML)
#   - tests/conformance/node_modules/ from package-lock.json (Node client, JSON)
#   - tests/oidc/node_modules/ from package-lock.json (oidc-provider, the OpenID provider of the single sign-on tests)
# Needs python3 (with venv) and node/npm. Safe to re-run.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== Python: .venv + tests/conformance/requirements.txt"
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
# Reinstall only when the pinned requirements changed since the last install.
if [ ! -f .venv/.requirements-installed ] || [ tests/conformance/requirements.txt -nt .venv/.requirements-installed ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/conformance/requirements.txt
    touch .venv/.requirements-installed
fi

echo "== Node: npm ci in tests/conformance"
if [ ! -f tests/conformance/node_modules/.package-lock.json ] \
    || [ tests/conformance/package-lock.json -nt tests/conformance/node_modules/.package-lock.json ]; then
    (cd tests/conformance && npm ci --no-audit --no-fund --loglevel=error)
fi

echo "== Node: npm ci in tests/oidc"
if [ ! -f tests/oidc/node_modules/.package-lock.json ] \
    || [ tests/oidc/package-lock.json -nt tests/oidc/node_modules/.package-lock.json ]; then
    (cd tests/oidc && npm ci --no-audit --no-fund --loglevel=error)
fi

echo "== Installed kalturaapiclient" \
    "$(.venv/bin/python -c "import importlib.metadata as m; print(m.version('kalturaapiclient'))"), kaltura-client" \
    "$(node -p "require('./tests/conformance/node_modules/kaltura-client/package.json').version")", oidc-provider \
    "$(node -p "require('./tests/oidc/node_modules/oidc-provider/package.json').version")"
