"""Readers that bring outside data into the stores: chain exports, node RPC, the exchange ledger, tags, sanctions."""
