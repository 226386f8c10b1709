"""``chainsleuth ingest``: bring outside data into the stores (the exchange's books, chain exports)."""

from __future__ import annotations

import typer

from chainsleuth.cli import ingest_chain, ingest_ledger, ingest_rpc

app = typer.Typer(
    help="Load data into the stores: the exchange's ledger export and bitcoin-etl / ethereum-etl chain exports. "
    "Every ingest is idempotent and resumes after an interruption.",
    no_args_is_help=True,
)
app.command("ledger")(ingest_ledger.ledger)
app.command("chains")(ingest_chain.chains)
app.command("bitcoin-etl")(ingest_chain.bitcoin_etl)
app.command("ethereum-etl")(ingest_chain.ethereum_etl)
app.command("ethereum-rpc")(ingest_rpc.ethereum_rpc)
app.command("bitcoin-rpc")(ingest_rpc.bitcoin_rpc)
