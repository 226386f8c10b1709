#!/usr/bin/env bash
# Install everything chainsleuth needs on a fresh Debian machine, idempotently:
#   - Debian packages (PostgreSQL for the test suite and team deployments, Chromium for the browser tests),
#   - a Python virtual environment in .venv with chainsleuth and its dev tools,
#   - the front-end assets from the npm registry, copied into the package.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-system-packages.sh

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "chainsleuth needs Python 3.11 or newer; found $($PYTHON --version 2>&1)" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating the virtual environment in .venv"
  "$PYTHON" -m venv .venv
fi

stamp=.venv/.chainsleuth-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "==> installing chainsleuth and its dependencies into .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev,spark]"
  touch "$stamp"
fi

# Front-end assets come from the npm registry at the versions pinned in package-lock.json and are copied into the
# package, so the server never reaches a CDN. --ignore-scripts: no install hook (some ship telemetry) ever runs.
vendor=src/chainsleuth/web/static/vendor
if [ ! -f "$vendor/.installed" ] || [ package-lock.json -nt "$vendor/.installed" ] || [ ! -x node_modules/.bin/anvil ]; then
  echo "==> installing front-end assets from the npm registry"
  # `npm install` rather than `npm ci`: npm writes lock files without the other platforms' optional packages
  # (anvil ships one binary package per platform), which `npm ci` then rejects as out of sync.
  npm install --no-audit --no-fund --ignore-scripts --loglevel=error
  mkdir -p "$vendor"
  cp node_modules/swagger-ui-dist/swagger-ui.css node_modules/swagger-ui-dist/swagger-ui-bundle.js \
     node_modules/swagger-ui-dist/favicon-32x32.png "$vendor/"
  cp node_modules/htmx.org/dist/htmx.min.js node_modules/cytoscape/dist/cytoscape.min.js "$vendor/"
  touch "$vendor/.installed"
fi
