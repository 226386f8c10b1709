"""Who may do what: the one permission matrix of chainsleuth, and agency scoping for law-enforcement officers.

Every capability asks here (``require(principal, "action.approve")``) instead of comparing roles itself, so
that the matrix below is the whole access policy: an auditor can read it, docs/privacy.md prints it, and a
test checks every role against it. Roles come from :class:`chainsleuth.store.models.users.Role`.

Design choices (least privilege, separation of duties):

* analysts work on pseudonymised customers; revealing a person's identity takes a senior role *and* a stated
  purpose (see :mod:`chainsleuth.privacy.reveal`);
* the administrator runs the platform (users, keys, rules of the system) but does not read customer data;
* auditors read and verify the audit log and everything else read-only, pseudonymised, and change nothing;
* law-enforcement officers (outside users) see only their own agency's requests and deliveries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import ColumnElement, false, true

from chainsleuth.errors import PermissionDeniedError
from chainsleuth.store.models.users import Role

A, SA, CO, LRO, AU, AD, LEO = (
    Role.ANALYST,
    Role.SENIOR_ANALYST,
    Role.COMPLIANCE_OFFICER,
    Role.LE_RESPONSE_OFFICER,
    Role.AUDITOR,
    Role.ADMIN,
    Role.LE_OFFICER,
)
_STAFF = (A, SA, CO, LRO, AU)


@dataclass(frozen=True)
class Permission:
    """One permission: its name, what it allows, and the roles holding it."""

    name: str
    description: str
    roles: frozenset[Role]


def _p(name: str, description: str, *roles: Role) -> Permission:
    return Permission(name, description, frozenset(roles))


#: The permission matrix. Add a permission here, never an ``if role == …`` elsewhere.
PERMISSIONS: dict[str, Permission] = {
    p.name: p
    for p in (
        _p("customer.read_pseudonymised", "See customers with pseudonym and masked personal fields.", *_STAFF),
        _p("customer.search", "Look customers up by e-mail, phone, name or document (blind index).", SA, CO, LRO),
        _p("customer.reveal", "Decrypt a customer's personal fields for a stated, audited purpose.", SA, CO, LRO),
        _p("ledger.read", "Read accounts, balances and ledger events (without personal columns).", *_STAFF),
        _p("chain.read", "Use blockchain analytics: clusters, traces, exposure, paths.", *_STAFF),
        _p("tags.write", "Add or change attribution tags.", A, SA, CO),
        _p(
            "tags.import",
            "Import TagPacks, ActorPacks and sanctions lists (changes every analyst's attribution).",
            SA,
            CO,
            AD,
        ),
        _p("chain.cluster", "Run clustering and its quality check (changes every cluster id's members).", SA, CO, AD),
        _p("rules.manage", "Create, change, backtest and enable monitoring rules.", SA, CO),
        _p("alert.read", "See monitoring alerts and their explanations.", A, SA, CO, AU),
        _p("alert.triage", "Dismiss alerts or escalate them into cases.", A, SA, CO),
        _p("case.read", "Read cases, their evidence and timelines.", A, SA, CO, LRO, AU),
        _p("case.create", "Open a case.", A, SA, CO, LRO),
        _p("case.update", "Add notes, evidence and links; change status (not close).", A, SA, CO, LRO),
        _p("case.assign", "Assign cases to investigators and queues.", SA, CO),
        _p("case.close", "Close a case with a decision and reason.", SA, CO),
        _p("action.propose", "Propose a freeze, unfreeze, seizure or preservation (four-eyes: step 1).", SA, CO, LRO),
        _p("action.approve", "Approve someone else's proposed account action (four-eyes: step 2).", CO),
        _p("report.draft", "Draft a suspicious-transaction report (goAML).", SA, CO),
        _p("report.approve", "Approve and submit a report to the FIU; record its acknowledgement.", CO),
        _p("le_request.submit", "Submit a request as a verified law-enforcement officer (own agency only).", LEO),
        _p("le_request.read", "Read law-enforcement requests (officers: own agency only).", CO, LRO, AU, LEO),
        _p("le_request.triage", "Triage, de-duplicate and match requests to accounts; set deadlines.", LRO),
        _p("le_request.respond", "Assemble and deliver a minimum-necessary disclosure package.", LRO),
        _p("agency.manage", "Register and verify law-enforcement agencies and their officers.", AD, LRO),
        _p("audit.read", "Read and export the audit log.", AU, CO, AD),
        _p("audit.verify", "Verify the audit log's hash chain.", AU, CO, AD),
        _p("user.manage", "Create, list, change the role of, deactivate and reset the password of platform users.", AD),
        _p(
            "system.read",
            "See the deployment's status and the description of the world it was loaded from.",
            *_STAFF,
            AD,
        ),
        _p("privacy.manage_keys", "Rotate, retire and inspect field-encryption keys; rebuild blind indexes.", AD),
        _p("academy.learn", "Take academy courses and exercises.", A, SA, CO, LRO, LEO),
        _p("academy.teach", "Create courses and grade trainees.", SA, CO, AD),
    )
}


class Actor(Protocol):
    """Anyone who acts: a :class:`chainsleuth.api.deps.Principal`, a CLI user, or :class:`SystemActor`."""

    @property
    def username(self) -> str: ...

    @property
    def role(self) -> Role | str: ...

    @property
    def agency_id(self) -> str | None: ...


@dataclass(frozen=True)
class UserActor:
    """A platform user acting outside the HTTP API (the CLI's ``--as USERNAME``, after login)."""

    username: str
    role: Role
    agency_id: str | None = None


@dataclass(frozen=True)
class SystemActor:
    """chainsleuth itself (an ingest, a scheduled job): recorded in the audit log as ``system:<name>``.

    It holds no permissions; system jobs act under their own code paths and are audited as such.
    """

    name: str
    agency_id: str | None = None

    @property
    def username(self) -> str:
        return f"system:{self.name}"

    @property
    def role(self) -> str:
        return "system"


def role_of(actor: Actor) -> str:
    """The actor's role as a plain string."""
    role = actor.role
    return role.value if isinstance(role, Role) else str(role)


def has_permission(actor: Actor, permission: str) -> bool:
    """Whether ``actor``'s role holds ``permission`` (ValueError for an unknown permission name)."""
    try:
        allowed = PERMISSIONS[permission].roles
    except KeyError:
        raise ValueError(f"unknown permission {permission!r}") from None
    return role_of(actor) in {role.value for role in allowed}


def require(actor: Actor, permission: str) -> None:
    """Raise :class:`PermissionDeniedError` unless ``actor`` holds ``permission``."""
    if not has_permission(actor, permission):
        raise PermissionDeniedError(
            f"your role may not {PERMISSIONS[permission].description[0].lower()}"
            f"{PERMISSIONS[permission].description[1:].rstrip('.')}",
            permission=permission,
            role=role_of(actor),
        )


def permissions_of(role: Role | str) -> list[str]:
    """Every permission a role holds, sorted."""
    value = role.value if isinstance(role, Role) else role
    return sorted(name for name, p in PERMISSIONS.items() if value in {r.value for r in p.roles})


def roles_with(permission: str) -> list[str]:
    """Every role holding ``permission``, sorted."""
    return sorted(role.value for role in PERMISSIONS[permission].roles)


# -- agency scoping ---------------------------------------------------------------------------------------------


def is_agency_scoped(actor: Actor) -> bool:
    """Whether ``actor`` sees only their own agency's objects (law-enforcement officers)."""
    return role_of(actor) == Role.LE_OFFICER.value


def check_agency(actor: Actor, object_agency_id: str | None) -> None:
    """Refuse an agency-scoped actor access to another agency's object (or to one belonging to none).

    Callers should answer "not found" rather than "forbidden" to the outside when existence itself is
    confidential; this raises PermissionDeniedError and leaves that choice to them.
    """
    if not is_agency_scoped(actor):
        return
    if actor.agency_id is None or object_agency_id != actor.agency_id:
        raise PermissionDeniedError(
            "this object belongs to another agency", agency=actor.agency_id, object_agency=object_agency_id
        )


def agency_filter(actor: Actor, agency_column: ColumnElement[str | None]) -> ColumnElement[bool]:
    """A WHERE clause limiting a query to what ``actor`` may see: everything for staff, the officer's own
    agency for law-enforcement officers (nothing at all if their account lacks an agency).
    """
    if not is_agency_scoped(actor):
        return true()
    if actor.agency_id is None:
        return false()
    return agency_column == actor.agency_id


def matrix(roles: Iterable[Role] = tuple(Role)) -> list[tuple[str, list[bool]]]:
    """The permission matrix as rows ``(permission, [role holds it…])`` in ``roles`` order (for docs)."""
    ordered = list(roles)
    return [(name, [role in p.roles for role in ordered]) for name, p in PERMISSIONS.items()]
