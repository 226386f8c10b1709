"""``world verify`` on damaged worlds: broken files are clear errors, edited files and labels are reported."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from chainsleuth.cli.errors import exit_code_for
from chainsleuth.cli.world_cmd import app
from chainsleuth.errors import MalformedFileError, NotFoundError
from chainsleuth.world.verify import STAGES, verify_world

runner = CliRunner()


@pytest.fixture
def world_copy(tiny_world: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(tiny_world, out)
    return out


@pytest.fixture
def csv_copy(tiny_world_csv: Path, tmp_path: Path) -> Path:
    out = tmp_path / "csv-copy"
    shutil.copytree(tiny_world_csv, out)
    return out


def _break_line(path: Path, number: int, text: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[number - 1] = text
    path.write_text("".join(lines), encoding="utf-8")


def test_a_broken_json_line_names_file_and_line(world_copy: Path) -> None:
    path = world_copy / "bitcoin" / "transactions.jsonl"
    _break_line(path, 5, '{"hash": "truncated\n')
    with pytest.raises(MalformedFileError) as raised:
        verify_world(world_copy)
    assert raised.value.path == str(path)
    assert raised.value.line == 5


def test_a_broken_json_line_in_the_cli_is_one_clear_error(world_copy: Path) -> None:
    _break_line(world_copy / "ethereum" / "token_transfers.jsonl", 3, "not json at all\n")
    result = runner.invoke(app, ["verify", str(world_copy)])
    assert isinstance(result.exception, MalformedFileError)
    assert exit_code_for(result.exception) == 65
    assert "token_transfers.jsonl" in str(result.exception)
    assert "line=3" in str(result.exception)


def test_a_corrupt_parquet_table_is_a_clear_error(world_copy: Path) -> None:
    path = world_copy / "exchange" / "ledger_events.parquet"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(MalformedFileError, match="not a readable Parquet file") as raised:
        verify_world(world_copy)
    assert raised.value.path == str(path)


def test_a_csv_row_with_missing_fields_names_its_line(csv_copy: Path) -> None:
    path = csv_copy / "bitcoin" / "blocks.csv"
    _break_line(path, 4, "3,abc\n")
    with pytest.raises(MalformedFileError, match="wrong number of fields") as raised:
        verify_world(csv_copy)
    assert (raised.value.path, raised.value.line) == (str(path), 4)


def test_a_record_of_the_wrong_shape_names_the_stage_files(world_copy: Path) -> None:
    _break_line(world_copy / "ethereum" / "blocks.jsonl", 2, '{"no_number": 1}\n')
    with pytest.raises(MalformedFileError, match="unexpected shape") as raised:
        verify_world(world_copy)
    assert raised.value.path == str(world_copy / "ethereum")


def test_a_missing_file_is_not_found(world_copy: Path) -> None:
    (world_copy / "ground_truth" / "event_labels.csv").unlink()
    with pytest.raises(NotFoundError, match="missing a file"):
        verify_world(world_copy)


def test_edited_and_extra_files_fail_the_hash_check(world_copy: Path) -> None:
    with (world_copy / "prices.csv").open("a", encoding="utf-8") as fh:
        fh.write("\n")
    (world_copy / "ground_truth" / "extra.csv").write_text("x\n")
    problems = verify_world(world_copy).problems
    assert "prices.csv: sha256 differs from manifest.json (the file was changed)" in problems
    assert "ground_truth/extra.csv: not listed in manifest.json" in problems


def test_label_files_must_agree_with_the_incidents(world_copy: Path) -> None:
    labels = world_copy / "ground_truth" / "customer_labels.csv"
    lines = labels.read_text(encoding="utf-8").splitlines(keepends=True)
    dropped = lines.pop(1)
    lines.append("C9999999,phone_theft,I0001,2024-01-01T00:00:00Z,thief\n")
    labels.write_text("".join(lines), encoding="utf-8")
    events = world_copy / "ground_truth" / "event_labels.csv"
    rows = events.read_text(encoding="utf-8").splitlines(keepends=True)
    event_id, incident, typology = rows[1].strip().split(",")
    rows[1] = f"{event_id},{incident},not_{typology}\n"
    events.write_text("".join(rows), encoding="utf-8")
    problems = verify_world(world_copy).problems
    customer, label, incident_id, _, role = dropped.strip().split(",")
    assert f"customer_labels.csv lacks {(customer, label, incident_id, role)!r} of incidents.jsonl" in problems
    assert any("unknown customer C9999999" in p for p in problems)
    assert any(f"event_labels.csv: ('{event_id}'" in p and "is not in incidents.jsonl" in p for p in problems)
    assert any(f"event_labels.csv lacks ('{event_id}'" in p for p in problems)


def test_tagpack_categories_must_match_the_owners(world_copy: Path) -> None:
    path = world_copy / "tagpacks" / "mixers.yaml"
    body = yaml.safe_load(path.read_text(encoding="utf-8"))
    body["tags"][0]["category"] = "exchange"
    del body["tags"][1]["abuse"]
    path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    problems = verify_world(world_copy).problems
    assert any(p.startswith("mixers.yaml") and "tagged 'exchange'" in p for p in problems)
    assert any(p.startswith("mixers.yaml") and "illicit flag is True" in p for p in problems)


def test_progress_covers_every_stage(tiny_world: Path) -> None:
    seen: list[tuple[int, int, str]] = []
    report = verify_world(tiny_world, lambda done, total, stage: seen.append((done, total, stage)))
    assert report.ok, report.problems[:10]
    assert [stage for _, _, stage in seen] == [*STAGES, "done"]
    assert seen[-1][:2] == (len(STAGES), len(STAGES))
    assert report.checked["labels"] > 0
    assert report.checked["tags"] > 0
    assert report.checked["file_hashes"] > 20
