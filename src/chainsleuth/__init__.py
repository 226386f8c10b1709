"""chainsleuth: an open, self-hosted financial-crime platform for crypto exchanges.

The package is split by capability (see ``docs/architecture.md``); data flows one way:
``ingest`` -> ``store`` -> ``chain`` (analytics) -> ``monitor`` -> ``cases`` / ``lawenforcement`` -> ``api`` / ``web``.
``world`` is the simulator that feeds demos, tests, benchmarks and the academy.
"""

__version__ = "0.1.0"
