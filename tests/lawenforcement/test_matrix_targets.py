"""A deployment's own disclosure matrix (custom rules, malformed files refused with the place named, the data-dir
location), target CSV edge cases (repeated columns, multi-line cells) and the foreign-customer check over more
matched customers than one query chunk."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainsleuth.errors import InvalidInputError, MalformedFileError
from chainsleuth.lawenforcement import triage
from chainsleuth.lawenforcement.matrix import DEFAULT_MATRIX, deployment_matrix_path, load_matrix, parse_matrix
from chainsleuth.lawenforcement.targets import parse_targets_csv
from chainsleuth.store.db import session_scope
from tests.lawenforcement.conftest import LRO, NOW, World, submit

CUSTOM = """
legal_bases: [court_order, subpoena]
rules:
  - {type: production, basis: subpoena, jurisdiction: [DE], disclose: [subscriber], act: []}
  - {type: "*", basis: "*", jurisdiction: "*", disclose: [], act: []}
deadlines_hours: {production: 48}
escalation_step_hours: 6
"""


def test_custom_matrix_decides_and_sets_clocks() -> None:
    matrix = parse_matrix(CUSTOM, path="custom.yaml")
    decision = matrix.decide("production", "subpoena", "de", ["subscriber", "transactions"])
    assert (decision.rule, decision.disclose, decision.narrowed) == (0, ["subscriber"], ["transactions"])
    assert matrix.decide("production", "court_order", "DE", ["subscriber"]).disclose == []
    assert matrix.clock_hours("production") == 48
    assert matrix.clock_hours("emergency_disclosure") == 48  # unknown type: the longest clock
    assert matrix.escalation_step_hours == 6
    assert matrix.source == "custom.yaml"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [", "not valid YAML"),
        ("legal_bases: [x]\n", "needs a `rules:` list"),
        ("rules:\n  - just text\n", "rule 1 is not a mapping"),
        ("rules:\n  - {type: production, disclose: [passwords]}\n", "rule 1: unknown value(s) ['passwords']"),
        ("rules:\n  - {type: production}\n  - {type: telepathy}\n", "rule 2: unknown value(s) ['telepathy']"),
        ("legal_bases: [warrant]\nrules:\n  - {basis: subpoena}\n", "rule 1: unknown value(s) ['subpoena']"),
        ("rules:\n  - {type: production, disclosure: [subscriber]}\n", "rule 1: unknown key(s) ['disclosure']"),
        ("rules: []\ndeadlines_hours: {production: soon}\n", "deadlines_hours.production: 'soon' is not a number"),
        ("rules: []\ndeadlines_hours: {production: -1}\n", "must be positive"),
        ("rules: []\ndeadlines_hours: {parking: 3}\n", "unknown request types ['parking']"),
        ("rules: []\nescalation_step_hours: often\n", "escalation_step_hours"),
    ],
)
def test_malformed_matrix_is_refused_with_a_clear_reason(text: str, message: str) -> None:
    with pytest.raises(MalformedFileError) as raised:
        parse_matrix(text, path="mine.yaml")
    assert message in raised.value.message
    assert raised.value.details["path"] == "mine.yaml"


def test_deployment_matrix_under_the_data_dir(tmp_path: Path) -> None:
    assert load_matrix(data_dir=tmp_path).source == str(DEFAULT_MATRIX.resolve())  # nothing there: the shipped one
    own = deployment_matrix_path(tmp_path)
    own.parent.mkdir(parents=True)
    own.write_text(CUSTOM, encoding="utf-8")
    assert load_matrix(data_dir=tmp_path).clock_hours("production") == 48
    explicit = tmp_path / "other.yaml"
    explicit.write_text(CUSTOM.replace("production: 48", "production: 12"), encoding="utf-8")
    assert load_matrix(explicit, data_dir=tmp_path).clock_hours("production") == 12  # --matrix wins
    own.write_text("rules: {", encoding="utf-8")
    with pytest.raises(MalformedFileError, match="not valid YAML"):  # never a silent fall-back to the default
        load_matrix(data_dir=tmp_path)
    with pytest.raises(MalformedFileError, match="cannot read"):
        load_matrix(tmp_path / "missing.yaml")


def test_custom_matrix_applies_in_triage(world: World) -> None:
    request_id = submit(world, basis="subpoena", categories=("subscriber", "transactions"))
    with session_scope(world.engine) as session:
        request = triage.triage(session, LRO, request_id, matrix=parse_matrix(CUSTOM), now=NOW)
        assert request.triage["allowed_categories"] == ["subscriber"]
        assert request.triage["narrowed"] == ["transactions"]


def test_repeated_header_column_is_refused_by_name() -> None:
    with pytest.raises(InvalidInputError, match="'email' more than once") as raised:
        parse_targets_csv(b"email,phone,email\na@b.example,,c@d.example\n")
    assert raised.value.details["columns"] == ["email"]


def test_multi_line_cell_is_reported_at_its_first_line() -> None:
    parsed = parse_targets_csv('email,phone\n"not\nan\naddress",\n\nbad,\nbob@example.org,\n')
    assert [(t.row_number, t.valid) for t in parsed] == [(2, False), (6, False), (7, True)]


def test_foreign_customers_counted_beyond_one_chunk(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(triage, "_CHUNK", 1)  # every matched customer in its own chunk, as 500+ would be
    targets = "customer_id\nC0000001\nC0000002\nC0000003\nC0000004\n"
    request_id = submit(world, request_type="production", targets=targets, jurisdiction="SE", who=world.nils)
    with session_scope(world.engine) as session:
        request = triage.triage(session, LRO, request_id, now=NOW)
        matched = request.triage["matched_customers"]
        assert matched >= 2
        foreign = [r for r in request.risk_reasons if r.startswith("targets outside")]
        assert foreign == [f"targets outside the agency's jurisdiction: {matched} matched customer(s)"]
