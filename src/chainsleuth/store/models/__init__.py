"""The relational data model: the exchange's books, platform users, ingest bookkeeping and the audit log.

Importing this package registers every table on :data:`Base.metadata`, which is what migrations compare
against.
"""

from __future__ import annotations

from chainsleuth.store.models import (
    academy,  # noqa: F401  (registers the academy tables)
    lawenforcement,  # noqa: F401  (registers the law-enforcement tables)
    rule_modes,  # noqa: F401  (registers the rule mode overrides)
)
from chainsleuth.store.models.alerts import MonitorAlert, MonitorBacktest, MonitorRuleVersion, MonitorShadowHit
from chainsleuth.store.models.audit import AuditChainHead, AuditEntry, PrivacyKey
from chainsleuth.store.models.base import NAMING_CONVENTION, Base
from chainsleuth.store.models.cases import (
    AccountAction,
    Case,
    CaseAlert,
    CaseEvent,
    CaseEvidence,
    CaseLink,
    CaseNote,
    LegalHold,
    StrReport,
)
from chainsleuth.store.models.exchange import Account, Balance, Customer, DepositAddress
from chainsleuth.store.models.ingest import IngestRun
from chainsleuth.store.models.ledger import EVENT_TYPES, LedgerEvent
from chainsleuth.store.models.personal import personal, personal_columns, personal_fields_registry
from chainsleuth.store.models.tags import Actor, Tag, TagPackRecord
from chainsleuth.store.models.users import Role, User

__all__ = [
    "EVENT_TYPES",
    "NAMING_CONVENTION",
    "Account",
    "AccountAction",
    "Actor",
    "AuditChainHead",
    "AuditEntry",
    "Balance",
    "Base",
    "Case",
    "CaseAlert",
    "CaseEvent",
    "CaseEvidence",
    "CaseLink",
    "CaseNote",
    "Customer",
    "DepositAddress",
    "IngestRun",
    "LedgerEvent",
    "LegalHold",
    "MonitorAlert",
    "MonitorBacktest",
    "MonitorRuleVersion",
    "MonitorShadowHit",
    "PrivacyKey",
    "Role",
    "StrReport",
    "Tag",
    "TagPackRecord",
    "User",
    "personal",
    "personal_columns",
    "personal_fields_registry",
]
