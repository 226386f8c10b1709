"""The ``chainsleuth`` command line: one command group per capability."""
