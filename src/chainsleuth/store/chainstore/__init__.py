"""The columnar chain store: blockchain data as Parquet with dense integer ids, for the analytics engine.

Public API: :class:`ChainStore` (readers, lookups, stats, SQL, rollback), :class:`ChainWriter` (atomic batch
appends, obtained from :meth:`ChainStore.writer`), :class:`AddressDictionary`, and the schemas in
:mod:`chainsleuth.store.chainstore.schema`. See ``docs/chain-store.md``.
"""

from chainsleuth.store.chainstore.addresses import AddressColumn, AddressDictionary
from chainsleuth.store.chainstore.schema import CHAINS, NATIVE_ASSET_ID, NO_ID, ChainSpec, chain_spec
from chainsleuth.store.chainstore.state import TokenInfo
from chainsleuth.store.chainstore.store import ChainStore, TransferEdges, UtxoArrays
from chainsleuth.store.chainstore.writer import ChainWriter

__all__ = [
    "CHAINS",
    "NATIVE_ASSET_ID",
    "NO_ID",
    "AddressColumn",
    "AddressDictionary",
    "ChainSpec",
    "ChainStore",
    "ChainWriter",
    "TokenInfo",
    "TransferEdges",
    "UtxoArrays",
    "chain_spec",
]
