"""Hand-built UTXO transactions for the heuristic tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from chainsleuth.chain.clustering.view import UtxoView

P2PKH, P2SH, P2WPKH = 0, 1, 2


@dataclass
class Tx:
    """One transaction: inputs and outputs as (address, value); ``spends``: the (tx, index) of each input."""

    tx_id: int
    inputs: list[tuple[int, int]]
    outputs: list[tuple[int, int]]
    spends: list[tuple[int, int]] = field(default_factory=list)


def view_of(txs: list[Tx], types: dict[int, int] | None = None, n_addresses: int = 100) -> UtxoView:
    """A UtxoView of ``txs``; address types default to P2WPKH, overridden by ``types``."""
    in_tx, in_addr, in_val, sp_tx, sp_idx = [], [], [], [], []
    out_tx, out_addr, out_val = [], [], []
    for tx in txs:
        for i, (address, value) in enumerate(tx.inputs):
            in_tx.append(tx.tx_id)
            in_addr.append(address)
            in_val.append(value)
            spent = tx.spends[i] if i < len(tx.spends) else (-1, -1)
            sp_tx.append(spent[0])
            sp_idx.append(spent[1])
        for address, value in tx.outputs:
            out_tx.append(tx.tx_id)
            out_addr.append(address)
            out_val.append(value)
    kinds = [P2WPKH] * n_addresses
    for address, kind in (types or {}).items():
        kinds[address] = kind
    return UtxoView.from_arrays(
        in_tx=in_tx,
        in_address=in_addr,
        in_value=in_val,
        in_spent_tx=sp_tx,
        in_spent_index=sp_idx,
        out_tx=out_tx,
        out_address=out_addr,
        out_value=out_val,
        address_type=kinds,
        n_addresses=n_addresses,
        type_names=("pubkeyhash", "scripthash", "witness_v0_keyhash"),
    )
