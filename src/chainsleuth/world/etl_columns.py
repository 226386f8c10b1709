"""The CSV column sets of the real export tools, in their order, for worlds written with ``--format csv``.

A CSV world must load into whatever a user already runs on ethereum-etl output (BigQuery/Athena schemas, their
own scripts), so its files carry exactly the columns of ``ethereumetl export_*`` in the same order, without the
``type`` field of the JSON items. The JSON-lines files keep every field of the tools' JSON items, unchanged.

ethereum-etl: ``docs/schema.md`` of blockchain-etl/ethereum-etl (blocks, transactions, token_transfers, receipts,
tokens). Receipt data (status, gas used) is not part of transactions.csv there: it goes to receipts.csv, which a
CSV world writes too. bitcoin-etl only exports JSON; its CSV here has the fields of its JSON items in the same
order (nested ``inputs``/``outputs`` as JSON text), again without ``type``.
"""

from __future__ import annotations

from chainsleuth.world.account import BLOCK_COLUMNS as ACCOUNT_BLOCK_COLUMNS
from chainsleuth.world.utxo import BLOCK_COLUMNS as UTXO_BLOCK_COLUMNS

#: bitcoin-etl blocks: the JSON item's fields without ``type``.
BTC_BLOCKS_CSV = UTXO_BLOCK_COLUMNS[1:]
BTC_TRANSACTIONS_CSV = (
    "hash",
    "size",
    "virtual_size",
    "version",
    "lock_time",
    "block_number",
    "block_hash",
    "block_timestamp",
    "is_coinbase",
    "index",
    "inputs",
    "outputs",
    "input_count",
    "output_count",
    "input_value",
    "output_value",
    "fee",
)
#: ethereum-etl blocks.csv: the JSON item's fields without ``type`` (same order).
ETH_BLOCKS_CSV = ACCOUNT_BLOCK_COLUMNS[1:]
ETH_TRANSACTIONS_CSV = (
    "hash",
    "nonce",
    "block_hash",
    "block_number",
    "transaction_index",
    "from_address",
    "to_address",
    "value",
    "gas",
    "gas_price",
    "input",
    "block_timestamp",
    "max_fee_per_gas",
    "max_priority_fee_per_gas",
    "transaction_type",
)
ETH_TOKEN_TRANSFERS_CSV = (
    "token_address",
    "from_address",
    "to_address",
    "value",
    "transaction_hash",
    "log_index",
    "block_number",
)
ETH_RECEIPTS_CSV = (
    "transaction_hash",
    "transaction_index",
    "block_hash",
    "block_number",
    "cumulative_gas_used",
    "gas_used",
    "contract_address",
    "root",
    "status",
    "effective_gas_price",
)
ETH_TOKENS_CSV = ("address", "symbol", "name", "decimals", "total_supply", "block_number")

#: CSV columns per chain file of a world (relative path without suffix).
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "bitcoin/blocks": BTC_BLOCKS_CSV,
    "bitcoin/transactions": BTC_TRANSACTIONS_CSV,
    "ethereum/blocks": ETH_BLOCKS_CSV,
    "ethereum/transactions": ETH_TRANSACTIONS_CSV,
    "ethereum/token_transfers": ETH_TOKEN_TRANSFERS_CSV,
    "ethereum/receipts": ETH_RECEIPTS_CSV,
    "ethereum/tokens": ETH_TOKENS_CSV,
}


def columns_for(base: str, json_fields: tuple[str, ...], fmt: str) -> tuple[str, ...]:
    """The columns a RecordWriter for ``base`` writes: the real tool's CSV set, or (JSON) the item's fields."""
    return CSV_COLUMNS[base] if fmt == "csv" else json_fields
