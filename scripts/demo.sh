#!/usr/bin/env bash
# One command for a newcomer: install everything, generate a world, load and analyse it, serve it on localhost.
# Extra arguments go to `chainsleuth demo` (see `chainsleuth demo --help`), e.g. --port 8080 or --size small.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/chainsleuth demo "$@"
