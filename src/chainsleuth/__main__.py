"""Allow ``python -m chainsleuth``."""

from chainsleuth.cli.main import main

main()
