"""The permission matrix, role by role, and agency scoping of law-enforcement officers."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import column, select, table

from chainsleuth.errors import PermissionDeniedError
from chainsleuth.privacy.policy import (
    PERMISSIONS,
    SystemActor,
    agency_filter,
    check_agency,
    has_permission,
    matrix,
    permissions_of,
    require,
    roles_with,
)
from chainsleuth.store.models.users import Role

from .conftest import principal

PROBES = (
    "customer.read_pseudonymised",
    "customer.reveal",
    "customer.search",
    "action.propose",
    "action.approve",
    "audit.read",
    "audit.verify",
    "user.manage",
    "le_request.submit",
    "le_request.read",
    "tags.write",
    "tags.import",
    "chain.cluster",
    "privacy.manage_keys",
)
#: The expected answer for every role x probe: an independent statement of the policy, not a copy of it.
EXPECTED: dict[Role, set[str]] = {
    Role.ANALYST: {"customer.read_pseudonymised", "tags.write"},
    Role.SENIOR_ANALYST: {
        "customer.read_pseudonymised",
        "customer.reveal",
        "customer.search",
        "action.propose",
        "tags.write",
        "tags.import",
        "chain.cluster",
    },
    Role.COMPLIANCE_OFFICER: {
        "customer.read_pseudonymised",
        "customer.reveal",
        "customer.search",
        "action.propose",
        "action.approve",
        "audit.read",
        "audit.verify",
        "le_request.read",
        "tags.write",
        "tags.import",
        "chain.cluster",
    },
    Role.LE_RESPONSE_OFFICER: {
        "customer.read_pseudonymised",
        "customer.reveal",
        "customer.search",
        "action.propose",
        "le_request.read",
    },
    Role.AUDITOR: {"customer.read_pseudonymised", "audit.read", "audit.verify", "le_request.read"},
    Role.ADMIN: {"audit.read", "audit.verify", "user.manage", "privacy.manage_keys", "tags.import", "chain.cluster"},
    Role.LE_OFFICER: {"le_request.submit", "le_request.read"},
}


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_every_role_against_the_matrix(role: Role) -> None:
    actor = principal(role, agency_id="POL-1" if role is Role.LE_OFFICER else None)
    for permission in PROBES:
        allowed = permission in EXPECTED[role]
        assert has_permission(actor, permission) is allowed, (role, permission)
        if allowed:
            require(actor, permission)
        else:
            with pytest.raises(PermissionDeniedError) as refused:
                require(actor, permission)
            assert refused.value.details == {"permission": permission, "role": role.value}


def test_matrix_is_complete_and_documented() -> None:
    assert all(p.description.endswith(".") and p.name.count(".") == 1 for p in PERMISSIONS.values())
    assert all(PERMISSIONS[name].roles for name in PERMISSIONS)  # no permission nobody holds
    rows = matrix()
    assert len(rows) == len(PERMISSIONS)
    assert all(len(cells) == len(Role) for _, cells in rows)
    assert roles_with("action.approve") == ["compliance_officer"]
    assert "customer.reveal" not in permissions_of(Role.ANALYST)
    assert "customer.reveal" not in permissions_of("admin")  # administrators run the platform, not cases
    with pytest.raises(ValueError, match="unknown permission"):
        has_permission(principal(Role.ADMIN), "customer.delete_everything")


def test_system_actor_holds_nothing() -> None:
    system = SystemActor("ingest")
    assert system.username == "system:ingest"
    assert not any(has_permission(system, name) for name in PERMISSIONS)


def test_agency_scoping() -> None:
    officer = principal(Role.LE_OFFICER, "leo", agency_id="POL-1")
    check_agency(officer, "POL-1")
    for other in ("POL-2", None):
        with pytest.raises(PermissionDeniedError):
            check_agency(officer, other)
    check_agency(principal(Role.LE_RESPONSE_OFFICER), "POL-2")  # staff are not agency-scoped
    with pytest.raises(PermissionDeniedError):
        check_agency(principal(Role.LE_OFFICER, "stray", agency_id=None), None)

    requests = table("requests", column("agency_id"))
    as_sql = {
        name: str(
            select(requests)
            .where(agency_filter(actor, requests.c.agency_id))
            .compile(compile_kwargs={"literal_binds": True})
        )
        for name, actor in {
            "officer": officer,
            "staff": principal(Role.COMPLIANCE_OFFICER),
            "stray": principal(Role.LE_OFFICER, "stray"),
        }.items()
    }
    assert "agency_id = 'POL-1'" in as_sql["officer"]
    assert "WHERE" not in as_sql["staff"] or "true" in as_sql["staff"].lower() or "1 = 1" in as_sql["staff"]
    assert "false" in as_sql["stray"].lower() or "0 = 1" in as_sql["stray"]


def test_the_documented_matrix_is_the_policy() -> None:
    """docs/privacy.md prints the matrix; it must say exactly what the code enforces."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "privacy.md").read_text()
    rows = {
        line.split("|")[1].strip().strip("`"): [cell.strip() == "✓" for cell in line.split("|")[3:-1]]
        for line in doc.splitlines()
        if line.startswith("| `") and line.split("|")[1].strip().strip("`") in PERMISSIONS
    }
    assert rows == dict(matrix())
