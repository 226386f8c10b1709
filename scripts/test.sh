#!/usr/bin/env bash
# One command for a newcomer and for CI: install everything, then lint, type-check and run the whole test suite
# against both SQLite and a real PostgreSQL that the tests start themselves. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "==> ruff"
ruff check src tests benchmarks
ruff format --check src tests benchmarks
echo "==> mypy"
mypy
echo "==> pytest"
pytest "$@"
