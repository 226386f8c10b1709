"""Reading a world's files for ``world verify``, and the checks that need no replay: hashes, labels, TagPacks.

A world may have been copied, truncated or edited by hand before someone verifies it, so every reader here turns a
file it cannot parse into a :class:`MalformedFileError` naming the file and line (exit code 65 on the CLI) instead
of a JSON or Arrow traceback; a file that is missing altogether is a :class:`NotFoundError`.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as _parquet
import yaml

from chainsleuth.errors import MalformedFileError, NotFoundError

if TYPE_CHECKING:
    from chainsleuth.world.generator import WorldManifest
    from chainsleuth.world.verify import Report

#: pyarrow's parquet module is only partly annotated; treat it as dynamic.
pq: Any = _parquet

#: TagPack categories that may stand for any illicit entity: GraphSense tags a hacker or a sanctioned person by
#: role ("perpetrator", "organization") and puts the crime into ``abuse``.
ROLE_CATEGORIES = frozenset({"perpetrator", "organization"})


def _missing(path: Path) -> NotFoundError:
    return NotFoundError("the world is missing a file", path=str(path))


def read_records(directory: Path, base: str) -> Iterator[dict[str, Any]]:
    """Records of a chain file (``bitcoin/transactions`` ...), whether written as JSON lines or CSV."""
    jsonl = directory / f"{base}.jsonl"
    if jsonl.exists():
        with jsonl.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                try:
                    record = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError) as error:
                    raise MalformedFileError(f"not a JSON line: {error}", path=str(jsonl), line=number) from None
                if not isinstance(record, dict):
                    raise MalformedFileError("a JSON line must be an object", path=str(jsonl), line=number)
                yield record
        return
    path = directory / f"{base}.csv"
    if not path.exists():
        raise _missing(jsonl.with_suffix(".{jsonl,csv}"))
    for number, row in _csv_rows(path):
        try:
            yield {k: _parse_csv(k, v) for k, v in row.items()}
        except json.JSONDecodeError as error:
            raise MalformedFileError(f"bad JSON in a field: {error}", path=str(path), line=number) from None


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows of a CSV file with their line numbers; MalformedFileError (with the line) on a broken row."""
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        try:
            for row in reader:
                if None in row or None in row.values():  # more or fewer fields than the header
                    raise MalformedFileError("wrong number of fields", path=str(path), line=reader.line_num)
                yield reader.line_num, row
        except (csv.Error, UnicodeDecodeError) as error:
            raise MalformedFileError(f"not valid CSV: {error}", path=str(path), line=reader.line_num) from None


def _parse_csv(key: str, value: str) -> Any:
    if value == "":
        return None
    if key in ("inputs", "outputs"):
        return json.loads(value)
    if value in ("true", "false"):
        return value == "true"
    if value.lstrip("-").isdigit() and not (key.endswith("hash") or key in ("nonce", "bits", "coinbase_param")):
        return int(value)
    return value


def read_table(directory: Path, base: str) -> list[dict[str, Any]]:
    """An exchange table as dicts (Parquet, or CSV with the same values as text)."""
    parquet = directory / f"{base}.parquet"
    if parquet.exists():
        try:
            return list(pq.read_table(parquet).to_pylist())
        except (pa.ArrowException, OSError) as error:
            raise MalformedFileError(f"not a readable Parquet file: {error}", path=str(parquet)) from None
    return read_csv(directory / f"{base}.csv")


def read_csv(path: Path) -> list[dict[str, Any]]:
    """A CSV file as dicts, empty fields as None; MalformedFileError (with the line) on a broken row."""
    if not path.exists():
        raise _missing(path)
    return [{k: (v if v != "" else None) for k, v in row.items()} for _, row in _csv_rows(path)]


def check_hashes(out: Path, manifest: WorldManifest, report: Report) -> None:
    """Every file the manifest lists has the recorded sha256, and no file is missing or unlisted."""
    for name, expected in sorted(manifest.files.items()):
        path = out / name
        if not path.is_file():
            report.fail(f"{name}: listed in manifest.json but missing")
            continue
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        if digest.hexdigest() != expected:
            report.fail(f"{name}: sha256 differs from manifest.json (the file was changed)")
    listed = set(manifest.files) | {"manifest.json"}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        if path.relative_to(out).as_posix() not in listed:
            report.fail(f"{path.relative_to(out).as_posix()}: not listed in manifest.json")
    report.checked["file_hashes"] = len(manifest.files)


def read_incidents(out: Path) -> list[dict[str, Any]]:
    """The incidents of the ground truth; MalformedFileError on a broken line."""
    path = out / "ground_truth" / "incidents.jsonl"
    if not path.exists():
        raise _missing(path)
    incidents = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            try:
                incidents.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise MalformedFileError(f"not a JSON line: {error}", path=str(path), line=number) from None
    return incidents


def check_labels(
    out: Path, report: Report, incidents: list[dict[str, Any]], customers: set[str], event_ids: set[str]
) -> None:
    """customer_labels.csv and event_labels.csv say exactly what incidents.jsonl says, about rows that exist."""
    truth = out / "ground_truth"
    expected_customers = {
        (c["customer_id"], inc["typology"], inc["incident_id"], c["role"])
        for inc in incidents
        for c in inc["customer_ids"]
    }
    found_customers = set()
    for row in read_csv(truth / "customer_labels.csv"):
        key = (row["customer_id"], row["label"], row["incident_id"], row["role"])
        found_customers.add(key)
        if key not in expected_customers:
            report.fail(f"customer_labels.csv: {key} is not in incidents.jsonl")
        if row["customer_id"] not in customers:
            report.fail(f"customer_labels.csv: unknown customer {row['customer_id']}")
        if not row["first_illicit_at"]:
            report.fail(f"customer_labels.csv: {row['customer_id']} has no first_illicit_at")
    for key in sorted(expected_customers - found_customers):
        report.fail(f"customer_labels.csv lacks {key} of incidents.jsonl")
    expected_events = {(e, inc["incident_id"], inc["typology"]) for inc in incidents for e in inc["event_ids"]}
    found_events = set()
    for row in read_csv(truth / "event_labels.csv"):
        event = (row["event_id"], row["incident_id"], row["typology"])
        found_events.add(event)
        if event not in expected_events:
            report.fail(f"event_labels.csv: {event} is not in incidents.jsonl")
        if row["event_id"] not in event_ids:
            report.fail(f"event_labels.csv: event {row['event_id']} is not in the ledger")
    for event in sorted(expected_events - found_events):
        report.fail(f"event_labels.csv lacks {event} of incidents.jsonl")
    report.checked["labels"] = len(found_customers) + len(found_events)


def check_tagpacks(out: Path, report: Report, owners: dict[tuple[str, str], tuple[str, str]]) -> None:
    """Every public tag names an address's true owner: same category (or a role for a criminal), abuse iff illicit."""
    entities = {r["entity_id"]: r for r in read_csv(out / "ground_truth" / "entities.csv")}
    chains = {"BTC": "bitcoin", "ETH": "ethereum"}
    tags = 0
    for path in sorted((out / "tagpacks").glob("*.yaml")):
        try:
            body = yaml.safe_load(path.read_text(encoding="utf-8"))
            entries = list(body["tags"])
        except (yaml.YAMLError, KeyError, TypeError) as error:
            raise MalformedFileError(f"not a TagPack: {error}", path=str(path)) from None
        for entry in entries:
            tags += 1
            chain = chains.get(str(entry.get("currency")), "?")
            owner = owners.get((chain, str(entry.get("address"))))
            where = f"{path.name}: {entry.get('address')}"
            if owner is None:
                report.fail(f"{where} is tagged but has no owner in the ground truth")
                continue
            entity = entities.get(owner[0])
            if entity is None:
                report.fail(f"{where} belongs to unknown entity {owner[0]}")
                continue
            illicit = entity["illicit"] == "true"
            category = entry.get("category")
            if category != entity["category"] and not (illicit and category in ROLE_CATEGORIES):
                report.fail(f"{where} tagged {category!r} but its owner {owner[0]} is {entity['category']!r}")
            if bool(entry.get("abuse")) != illicit:
                report.fail(f"{where}: abuse {entry.get('abuse')!r} but its owner's illicit flag is {illicit}")
    report.checked["tags"] = tags
