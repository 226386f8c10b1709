"""Loading the exchange export: counts, balances, idempotence, resumption, strictness, on both databases."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, func, select

from chainsleuth.errors import MalformedFileError, NotFoundError
from chainsleuth.ingest import ledger
from chainsleuth.ingest.ledger import load_exchange
from chainsleuth.store.models import Account, Balance, Customer, DepositAddress, IngestRun, LedgerEvent
from chainsleuth.store.models.base import Base

from . import exchange_world as world

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "world_exchange"
MODELS: dict[str, type[Base]] = {
    "customers": Customer,
    "accounts": Account,
    "deposit_addresses": DepositAddress,
    "balances": Balance,
    "ledger_events": LedgerEvent,
}
EXPECTED = {name: len(rows) for name, rows in world.tables().items()}


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: int(connection.scalar(select(func.count()).select_from(model)) or 0) for name, model in MODELS.items()
        }


def stored_balances(engine: Engine) -> dict[tuple[str, str], Decimal]:
    with engine.connect() as connection:
        return {(row.account_id, row.asset): row.balance for row in connection.execute(select(Balance))}


def stored_events(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(select(LedgerEvent).order_by(LedgerEvent.timestamp, LedgerEvent.event_id))
        return [dict(row._mapping) for row in rows]


def test_fixture_is_consistent() -> None:
    on_disk = pq.read_table(FIXTURE / "exchange" / "ledger_events.parquet").to_pylist()
    assert [row["event_id"] for row in on_disk] == [row["event_id"] for row in world.LEDGER_EVENTS]


def test_load_fixture(engine: Engine) -> None:
    seen: list[tuple[str, int, int]] = []
    report = load_exchange(FIXTURE, engine, lambda *args: seen.append(args))
    assert counts(engine) == EXPECTED
    assert {load.table: load.rows_inserted for load in report.tables} == EXPECTED
    assert report.rows_inserted == sum(EXPECTED.values())
    assert ("ledger_events", EXPECTED["ledger_events"], EXPECTED["ledger_events"]) in seen
    # the closing balances equal the contract's balance effects applied to the stored events, exactly
    expected_balances = world.balances_from_events(world.LEDGER_EVENTS)
    assert stored_balances(engine) == expected_balances
    assert world.balances_from_events(stored_events(engine)) == expected_balances
    assert expected_balances["A0000003", "ETH"] == Decimal("1.000000000000000001")
    events = stored_events(engine)
    assert [event["event_id"] for event in events] == [event["event_id"] for event in world.LEDGER_EVENTS]
    assert events[0]["timestamp"] == world.LEDGER_EVENTS[0]["timestamp"]
    assert events[0]["success"] is True
    assert events[11]["success"] is False
    assert events[1]["success"] is None
    with engine.connect() as connection:
        customer = connection.execute(select(Customer).where(Customer.customer_id == "C0000002")).one()
    assert customer.date_of_birth == "1982-02-12"
    assert customer.kyc_level == 3
    assert customer.version == 1


def test_reloading_adds_nothing(engine: Engine) -> None:
    load_exchange(FIXTURE, engine)
    again = load_exchange(FIXTURE, engine)
    assert again.rows_inserted == 0
    assert all(load.already_loaded for load in again.tables)
    assert counts(engine) == EXPECTED


def test_csv_edition_loads_the_same_and_overlapping_exports_add_nothing(engine: Engine, tmp_path: Path) -> None:
    world.write(tmp_path / "exchange", "csv")
    report = load_exchange(tmp_path, engine, batch_size=4)
    assert report.rows_inserted == sum(EXPECTED.values())
    assert stored_balances(engine) == world.balances_from_events(world.LEDGER_EVENTS)
    parquet = load_exchange(FIXTURE, engine)  # different bytes, same rows
    assert parquet.rows_inserted == 0
    assert sum(load.rows_already_present for load in parquet.tables) == sum(EXPECTED.values())
    assert counts(engine) == EXPECTED


def test_resume_after_interruption_loses_and_duplicates_nothing(engine: Engine) -> None:
    def interrupt(table: str, done: int, total: int) -> None:
        if table == "ledger_events" and done >= 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        load_exchange(FIXTURE, engine, interrupt, batch_size=3)
    assert counts(engine)["ledger_events"] == 6
    report = load_exchange(FIXTURE, engine, batch_size=5)
    events = next(load for load in report.tables if load.table == "ledger_events")
    assert (events.resumed_from_row, events.rows_inserted, events.rows_already_present) == (6, 7, 0)
    assert all(load.already_loaded for load in report.tables if load.table != "ledger_events")
    assert counts(engine) == EXPECTED
    assert stored_balances(engine) == world.balances_from_events(stored_events(engine))
    with engine.connect() as connection:
        runs = connection.execute(select(IngestRun.table_name, IngestRun.rows_inserted, IngestRun.status)).all()
    assert sorted(runs) == sorted((name, count, "complete") for name, count in EXPECTED.items())


def test_crash_inside_a_batch_rolls_back_only_that_batch(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    state = {"ledger_started": False}
    real_update = ledger.update

    def progress(table: str, done: int, total: int) -> None:
        state["ledger_started"] = table == "ledger_events" and done > 0

    def failing_update(*args: Any, **kwargs: Any) -> Any:
        if state["ledger_started"]:  # the second ledger batch: its rows are inserted, its bookkeeping fails
            raise OSError("power cut")
        return real_update(*args, **kwargs)

    monkeypatch.setattr(ledger, "update", failing_update)
    with pytest.raises(OSError, match="power cut"):
        load_exchange(FIXTURE, engine, progress, batch_size=3)
    assert counts(engine)["ledger_events"] == 3
    monkeypatch.setattr(ledger, "update", real_update)
    report = load_exchange(FIXTURE, engine)
    assert report.inserted("ledger_events") == EXPECTED["ledger_events"] - 3
    assert counts(engine) == EXPECTED


# --- strictness ------------------------------------------------------------------------------------------

Tables = dict[str, list[dict[str, Any]]]


def _events_with(index: int, **changes: Any) -> Tables:
    events = [dict(event) for event in world.LEDGER_EVENTS]
    events[index].update(changes)
    return {"ledger_events": events}


def _load_broken(
    engine: Engine, tmp_path: Path, fmt: str, overrides: Tables, batch_size: int = 4
) -> MalformedFileError:
    world.write(tmp_path / "exchange", fmt, overrides)
    with pytest.raises(MalformedFileError) as caught:
        load_exchange(tmp_path, engine, batch_size=batch_size)
    return caught.value


def _line(fmt: str, row: int) -> int:
    """The reported line of data row ``row``: the file line for CSV (after the header), else the row."""
    return row + 1 if fmt == "csv" else row


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
@pytest.mark.parametrize(
    ("overrides", "row", "column", "message"),
    [
        (_events_with(5, event_type="airdrop"), 6, "event_type", "must be one of"),
        (_events_with(2, amount=Decimal("-2")), 3, "amount", "must be positive"),
        (_events_with(6, asset=None), 7, "asset", "is required when event_type"),
        (_events_with(4, side=None), 5, "side", "is required"),
        (_events_with(7, ip_country="DEU"), 8, "ip_country", "longer than 2"),
    ],
    ids=["unknown-event-type", "negative-amount", "missing-asset", "trade-without-side", "too-long"],
)
def test_bad_values_name_file_and_row_and_roll_back_their_batch(
    engine: Engine, tmp_path: Path, fmt: str, overrides: Tables, row: int, column: str, message: str
) -> None:
    error = _load_broken(engine, tmp_path, fmt, overrides)
    assert error.path.endswith(f"ledger_events.{fmt}")
    assert (error.line, error.details["row"], error.details["column"]) == (_line(fmt, row), row, column)
    assert message in str(error)
    committed = (row - 1) // 4 * 4  # whole batches before the bad one stay, the bad one is gone
    assert counts(engine)["ledger_events"] == committed
    assert counts(engine)["customers"] == EXPECTED["customers"]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_unknown_account_is_rejected_with_its_row(engine: Engine, tmp_path: Path, fmt: str) -> None:
    error = _load_broken(engine, tmp_path, fmt, _events_with(9, account_id="A9999999"))
    assert (error.line, error.details["row"]) == (_line(fmt, 10), 10)
    assert "rejected by the database" in str(error)
    assert counts(engine)["ledger_events"] == 8


def test_duplicate_key_inside_a_file_is_rejected(engine: Engine, tmp_path: Path) -> None:
    events = [dict(event) for event in world.LEDGER_EVENTS]
    events[2]["event_id"] = events[1]["event_id"]
    error = _load_broken(engine, tmp_path, "parquet", {"ledger_events": events}, batch_size=10)
    assert (error.line, error.details["row"]) == (3, 3)


def _rewrite_parquet(path: Path, change: Callable[[pa.Table], pa.Table]) -> None:
    pq.write_table(change(pq.read_table(path)), path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda table: table.append_column("nickname", pa.array(["x"] * table.num_rows)),
            "unexpected ['nickname']",
        ),
        (lambda table: table.drop_columns(["ip"]), "missing ['ip']"),
        (
            lambda table: table.set_column(6, "amount", pa.array([1.5] * table.num_rows)),
            "column amount has type",
        ),
        (
            lambda table: table.set_column(2, "timestamp", table.column("timestamp").cast(pa.timestamp("us"))),
            "column timestamp has type",
        ),
    ],
    ids=["extra-column", "missing-column", "float-amount", "naive-timestamp"],
)
def test_wrong_parquet_schema_writes_nothing(
    engine: Engine, tmp_path: Path, change: Callable[[pa.Table], pa.Table], message: str
) -> None:
    world.write(tmp_path / "exchange")
    _rewrite_parquet(tmp_path / "exchange" / "ledger_events.parquet", change)
    with pytest.raises(MalformedFileError, match=message.replace("[", r"\[").replace("]", r"\]")) as caught:
        load_exchange(tmp_path, engine)
    assert caught.value.path.endswith("ledger_events.parquet")
    assert counts(engine) == dict.fromkeys(MODELS, 0)  # headers are checked before anything is written


def test_wrong_csv_header_names_line_1(engine: Engine, tmp_path: Path) -> None:
    world.write(tmp_path / "exchange", "csv")
    path = tmp_path / "exchange" / "accounts.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0].replace("status", "state") + "".join(lines[1:]))
    with pytest.raises(MalformedFileError, match="wrong column set") as caught:
        load_exchange(tmp_path, engine)
    assert (Path(caught.value.path).name, caught.value.line) == ("accounts.csv", 1)


@pytest.mark.parametrize(
    ("bad", "message"),
    [("not-a-number", "not a valid decimal"), ("1e", "not a valid decimal")],
)
def test_csv_type_errors_name_the_line(engine: Engine, tmp_path: Path, bad: str, message: str) -> None:
    world.write(tmp_path / "exchange", "csv")
    path = tmp_path / "exchange" / "ledger_events.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[3] = lines[3].replace(",2.000000000000000001,", f",{bad},")
    path.write_text("".join(lines))
    with pytest.raises(MalformedFileError, match=message) as caught:
        load_exchange(tmp_path, engine)
    assert (caught.value.line, caught.value.details["row"], caught.value.details["column"]) == (
        4,
        3,
        "amount",
    )


def test_csv_naive_timestamp_is_a_type_error(engine: Engine, tmp_path: Path) -> None:
    world.write(tmp_path / "exchange", "csv")
    path = tmp_path / "exchange" / "accounts.csv"
    path.write_text(path.read_text().replace("2024-03-01T09:00:00Z", "2024-03-01T09:00:00", 1))
    with pytest.raises(MalformedFileError, match="opened_at") as caught:
        load_exchange(tmp_path, engine)
    assert caught.value.line == 2


def test_truncated_parquet(engine: Engine, tmp_path: Path) -> None:
    world.write(tmp_path / "exchange")
    path = tmp_path / "exchange" / "ledger_events.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(MalformedFileError, match="truncated or corrupt") as caught:
        load_exchange(tmp_path, engine)
    assert caught.value.path == str(path)
    assert counts(engine) == dict.fromkeys(MODELS, 0)


@pytest.mark.parametrize("cut", [5, 60])
def test_truncated_csv(engine: Engine, tmp_path: Path, cut: int) -> None:
    world.write(tmp_path / "exchange", "csv")
    path = tmp_path / "exchange" / "ledger_events.csv"
    path.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(MalformedFileError, match="truncated") as caught:
        load_exchange(tmp_path, engine)
    assert (caught.value.path, caught.value.line) == (str(path), EXPECTED["ledger_events"] + 1)
    assert counts(engine) == dict.fromkeys(MODELS, 0)


def test_missing_file_is_not_found(engine: Engine, tmp_path: Path) -> None:
    world.write(tmp_path / "exchange")
    (tmp_path / "exchange" / "balances.parquet").unlink()
    with pytest.raises(NotFoundError, match="balances"):
        load_exchange(tmp_path, engine)
    with pytest.raises(NotFoundError, match="no exchange/ directory"):
        load_exchange(tmp_path / "nowhere", engine)


def test_bulk_path_stores_exactly_what_the_models_store(engine: Engine, tmp_path: Path) -> None:
    """The fast loader bypasses the column types; its raw stored values must equal the typed path's."""
    from sqlalchemy.orm import Session

    load_exchange(FIXTURE, engine)
    bulk = {event["event_id"]: event for event in world.LEDGER_EVENTS}
    with Session(engine) as session:
        for event_id, event in list(bulk.items()):
            copy = dict(event, event_id="X" + event_id[1:])
            session.add(LedgerEvent(**copy))
        session.commit()
    columns = "event_id, timestamp, amount, quote_amount, price, success, usd_value"
    with engine.connect() as connection:
        raw = {row[0]: row[1:] for row in connection.exec_driver_sql(f"SELECT {columns} FROM ledger_events")}
    for event_id in bulk:
        assert raw[event_id] == raw["X" + event_id[1:]], event_id


@pytest.fixture(scope="module")
def generated_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny world from the simulator, through its documented command line (the contract's producer)."""
    from typer.testing import CliRunner

    from chainsleuth.cli.main import app

    out = tmp_path_factory.mktemp("world")
    result = CliRunner().invoke(
        app, ["world", "generate", "--size", "tiny", "--seed", "7", "--out", str(out), "--force"]
    )
    assert result.exit_code == 0, result.output
    return out


def test_generated_world_loads_and_balances_match_its_ledger(engine: Engine, generated_world: Path) -> None:
    report = load_exchange(generated_world, engine)
    in_files = {load.table: load.rows_in_file for load in report.tables}
    assert counts(engine) == in_files
    assert in_files["ledger_events"] > 0
    expected = {key: value for key, value in world.balances_from_events(stored_events(engine)).items() if value}
    assert {key: value for key, value in stored_balances(engine).items() if value} == expected
