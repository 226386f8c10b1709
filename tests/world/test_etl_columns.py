"""CSV worlds use the exact column sets of ethereum-etl (and bitcoin-etl's field order), receipts included."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from chainsleuth.world import load_manifest
from chainsleuth.world.etl_columns import CSV_COLUMNS
from chainsleuth.world.verify import read_records

#: ethereum-etl docs/schema.md, copied by hand so that a change of our constants cannot silently pass.
ETHEREUM_ETL = {
    "ethereum/transactions": "hash,nonce,block_hash,block_number,transaction_index,from_address,to_address,value,"
    "gas,gas_price,input,block_timestamp,max_fee_per_gas,max_priority_fee_per_gas,transaction_type",
    "ethereum/token_transfers": "token_address,from_address,to_address,value,transaction_hash,log_index,block_number",
    "ethereum/receipts": "transaction_hash,transaction_index,block_hash,block_number,cumulative_gas_used,gas_used,"
    "contract_address,root,status,effective_gas_price",
    "ethereum/tokens": "address,symbol,name,decimals,total_supply,block_number",
    "ethereum/blocks": "number,hash,parent_hash,nonce,sha3_uncles,logs_bloom,transactions_root,state_root,"
    "receipts_root,miner,difficulty,total_difficulty,size,extra_data,gas_limit,gas_used,timestamp,"
    "transaction_count,base_fee_per_gas",
}


def _header(path: Path) -> str:
    with path.open(encoding="utf-8") as fh:
        return fh.readline().strip()


def test_csv_headers_are_ethereum_etl_exactly(tiny_world_csv: Path) -> None:
    for name, header in ETHEREUM_ETL.items():
        assert _header(tiny_world_csv / f"{name}.csv") == header, name
    for name in ("bitcoin/blocks", "bitcoin/transactions"):
        assert "type" not in _header(tiny_world_csv / f"{name}.csv").split(",")
        assert tuple(_header(tiny_world_csv / f"{name}.csv").split(",")) == CSV_COLUMNS[name]


def test_receipts_match_transactions_and_blocks(tiny_world: Path, tiny_world_csv: Path) -> None:
    with (tiny_world_csv / "ethereum" / "receipts.csv").open(encoding="utf-8", newline="") as fh:
        receipts = list(csv.DictReader(fh))
    txs = list(read_records(tiny_world, "ethereum/transactions"))
    assert [r["transaction_hash"] for r in receipts] == [t["hash"] for t in txs]
    assert {r["status"] for r in receipts} == {str(t["receipt_status"]) for t in txs} == {"1"}
    last_cumulative: dict[str, int] = defaultdict(int)
    for receipt, tx in zip(receipts, txs, strict=True):
        assert int(receipt["gas_used"]) == tx["gas"]
        assert int(receipt["effective_gas_price"]) == tx["gas_price"]
        assert int(receipt["cumulative_gas_used"]) == last_cumulative[receipt["block_hash"]] + tx["gas"]
        last_cumulative[receipt["block_hash"]] = int(receipt["cumulative_gas_used"])
    blocks = {b["hash"]: b for b in read_records(tiny_world, "ethereum/blocks")}
    for block_hash, cumulative in last_cumulative.items():
        assert blocks[block_hash]["gas_used"] == cumulative
    assert load_manifest(tiny_world_csv).row_counts["ethereum_receipts"] == len(receipts)
