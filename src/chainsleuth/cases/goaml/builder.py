"""Build a goAML 5.0.2 ``<report>`` from a case's ledger events (see docs/cases.md for the field mapping).

Where crypto facts go (the schema has no crypto-specific elements in 5.0.2):

* the on-chain **transaction hash** is the ``transactionnumber`` (our ledger event id is
  ``internal_ref_number``), and is repeated in the ``goods_services/item/identification_number``;
* an **external wallet address** is the ``account`` number of the counterparty ``t_account`` (account type
  ``CRYWT``, institution code ``external_institution_code``); our customer's **deposit addresses** are listed
  in the ``comments`` of their ``t_account_my_client``; every address involved is also in
  ``item/registration_number`` and in the human-readable ``transaction_description``;
* the **crypto amount and asset** (which ``currency_type`` cannot express, except XBT) are in the
  ``goods_services`` item (``item_make`` = asset, ``description`` = exact amount), while ``amount_local`` is
  the booked USD value converted to the local currency.

Our customers are ``*_my_client`` parties with their KYC details, decrypted through
:func:`chainsleuth.privacy.reveal.reveal` (purpose ``str_filing``, audited). Names are transliterated to the
ASCII alphabet the schema demands (:mod:`.translit`); the original spelling goes to ``full_name_frn``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type information
from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from chainsleuth.cases.goaml.config import GoamlConfig
from chainsleuth.cases.goaml.translit import split_name, to_ascii
from chainsleuth.cases.goaml.validate import enumeration
from chainsleuth.cases.ledger_guard import active_freezes
from chainsleuth.privacy.policy import Actor
from chainsleuth.privacy.reveal import reveal, reveal_ledger_field
from chainsleuth.store.models.cases import Case
from chainsleuth.store.models.exchange import Account, DepositAddress
from chainsleuth.store.models.ledger import LedgerEvent

#: Ledger events that are transactions in goAML's sense (logins and credential changes are not).
MONEY_EVENTS = ("deposit", "withdrawal", "internal_transfer", "trade", "fiat_deposit", "fiat_withdrawal")
FIAT_ASSETS = frozenset({"USD", "EUR"})
REVEALED_FIELDS = ("full_name", "date_of_birth", "nationality", "id_document_number", "email", "phone",
                   "address_line", "city", "postal_code")  # fmt: skip
_MAX_COMMENT = 8000


@dataclass
class BuildContext:
    """What one build reads and remembers (customers revealed once, the reveal audit sequence numbers)."""

    session: Session
    actor: Actor
    config: GoamlConfig
    case: Case
    customers: dict[str, dict[str, str | None]] = field(default_factory=dict)
    audit_seqs: list[int] = field(default_factory=list)
    bank_references: dict[str, str | None] = field(default_factory=dict)

    def customer(self, customer_id: str) -> dict[str, str | None]:
        if customer_id not in self.customers:
            result = reveal(self.session, self.actor, customer_id, list(REVEALED_FIELDS), "str_filing",
                            case_ref=f"{self.case.reference} goAML report")  # fmt: skip
            self.customers[customer_id] = result.fields
            self.audit_seqs.append(result.audit_seq)
        return self.customers[customer_id]

    def bank_reference(self, event: LedgerEvent) -> str | None:
        """The event's bank reference through an audited reveal (the column is deferred, never loaded)."""
        if event.event_id not in self.bank_references:
            self.bank_references[event.event_id] = reveal_ledger_field(
                self.session, self.actor, event.event_id, "bank_reference", "str_filing",
                case_ref=f"{self.case.reference} goAML report")  # fmt: skip
        return self.bank_references[event.event_id]


def sql_date(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat()


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def _clip(text: str, limit: int = _MAX_COMMENT) -> str:
    return text if len(text) <= limit else text[: limit - 15] + " …[truncated]"


def _country(code: str | None) -> str:
    return code if code and code in enumeration("country_type") else "-"


def _money(value: float | None, config: GoamlConfig, places: str = "0.01") -> str:
    local = Decimal(str(value or 0)) * Decimal(str(config.codes.usd_to_local_rate))
    return str(local.quantize(Decimal(places), rounding=ROUND_HALF_UP))


def _person(ctx: BuildContext, parent: etree._Element, customer_id: str) -> None:
    """A ``t_person_my_client`` for one of our customers."""
    from chainsleuth.store.models.exchange import Customer

    codes = ctx.config.codes
    data = ctx.customer(customer_id)
    customer = ctx.session.get(Customer, customer_id)
    assert customer is not None
    full_name = data.get("full_name") or ""
    first, middle, last = split_name(full_name)
    _sub(parent, "gender", codes.gender_unknown)
    _sub(parent, "first_name", first[:100])
    if middle:
        _sub(parent, "middle_name", middle[:100])
    _sub(parent, "last_name", last[:100])
    birth = data.get("date_of_birth")
    _sub(parent, "birthdate", f"{birth}T00:00:00" if birth else codes.unknown_date)
    if codes.include_original_script_names and to_ascii(full_name) != full_name.strip():
        _sub(parent, "full_name_frn", full_name[:255])
    document = data.get("id_document_number") or ""
    if customer.id_document_type == "passport" and document:
        _sub(parent, "passport_number", document[:255])
        _sub(parent, "passport_country", _country(customer.id_document_country))
    _sub(parent, "id_number", document[:255])
    _sub(parent, "nationality1", _country(data.get("nationality")))
    _sub(parent, "residence", _country(customer.country_of_residence))
    phones = _sub(parent, "phones")
    if data.get("phone"):
        phone = _sub(phones, "phone")
        _sub(phone, "tph_contact_type", "PRIVT")
        _sub(phone, "tph_communication_type", "M")
        _sub(phone, "tph_number", (data["phone"] or "")[:50])
    if data.get("address_line") and data.get("city"):
        address = _sub(_sub(parent, "addresses"), "address")
        _sub(address, "address_type", "RES")
        _sub(address, "address", (data["address_line"] or "")[:100])
        _sub(address, "city", (data["city"] or "")[:255])
        if data.get("postal_code"):
            _sub(address, "zip", (data["postal_code"] or "")[:10])
        _sub(address, "country_code", _country(customer.country_of_residence))
        _sub(address, "state", codes.unknown_text)
    if data.get("email"):
        _sub(parent, "email", (data["email"] or "")[:255])
    if customer.occupation:
        _sub(parent, "occupation", customer.occupation[:255])
    ident = _sub(parent, "identification")
    _sub(ident, "type", codes.identifier.get(customer.id_document_type, "-"))
    _sub(ident, "number", document[:255])
    _sub(ident, "issue_date", codes.unknown_date)
    _sub(ident, "expiry_date", codes.unknown_date)
    _sub(ident, "issue_country", _country(customer.id_document_country))
    _sub(ident, "comments", "Issue and expiry dates are not recorded by the reporting entity's KYC.")
    _sub(parent, "tax_reg_number", codes.tax_reg_number)
    _sub(parent, "source_of_wealth", customer.source_of_funds[:255])


def _my_account(ctx: BuildContext, parent: etree._Element, account_id: str) -> None:
    """A ``t_account_my_client``: our customer's account, its holder and its deposit addresses."""
    entity, codes = ctx.config.reporting_entity, ctx.config.codes
    account = ctx.session.get(Account, account_id)
    assert account is not None
    holder = ctx.customer(account.customer_id)
    _sub(parent, "institution_name", entity.institution_name)
    _sub(parent, "institution_code", entity.institution_code)
    _sub(parent, "non_bank_institution", "true")
    _sub(parent, "branch", entity.branch)
    _sub(parent, "account", account.account_id)
    _sub(parent, "currency_code", codes.currency_local)
    name = to_ascii(holder.get("full_name") or "") or codes.unknown_text
    _sub(parent, "account_name", name[:255])
    _sub(parent, "client_number", account.customer_id[:30])
    _sub(parent, "personal_account_type", codes.account_type)
    signatory = _sub(parent, "signatory")
    _person(ctx, _sub(signatory, "t_person"), account.customer_id)
    _sub(signatory, "role", codes.account_role)
    _sub(parent, "opened", sql_date(account.opened_at))
    frozen = bool(active_freezes(ctx.session, account_id))
    status = "closed" if account.status == "closed" else ("frozen" if frozen else "active")
    _sub(parent, "status_code", codes.account_status[status])
    _sub(parent, "beneficiary", name[:50])
    addresses = ctx.session.scalars(
        select(DepositAddress).where(DepositAddress.account_id == account_id).order_by(DepositAddress.chain,
                                                                                      DepositAddress.address)
    ).all()  # fmt: skip
    if addresses:
        listed = ", ".join(f"{a.chain}:{a.address}" for a in addresses)
        _sub(parent, "comments", _clip(f"Deposit addresses of this account: {listed}"))


def _external_account(ctx: BuildContext, parent: etree._Element, *, chain: str | None, address: str | None,
                      label: str) -> None:  # fmt: skip
    """A ``t_account`` for a wallet (or bank account) outside the exchange."""
    codes = ctx.config.codes
    if chain:
        _sub(parent, "institution_name", f"External wallet on {chain}"[:255])
    else:
        _sub(parent, "institution_name", label[:255])
    _sub(parent, "institution_code", codes.external_institution_code)
    _sub(parent, "non_bank_institution", "true" if chain else "false")
    _sub(parent, "account", (address or codes.unknown_text)[:255])
    _sub(parent, "account_name", "Unknown holder")
    if chain:
        _sub(parent, "personal_account_type", codes.account_type)
    _sub(parent, "comments", _clip(label))


def _party(
    ctx: BuildContext,
    tx: etree._Element,
    side: str,
    *,
    mine: str | None,
    funds: str,
    chain: str | None = None,
    address: str | None = None,
    label: str = "",
    country: str = "-",
) -> None:
    """``t_from_my_client``/``t_from`` (``side`` = from) or ``t_to_my_client``/``t_to`` (``side`` = to)."""
    wrapper = _sub(tx, f"t_{side}_my_client" if mine else f"t_{side}")
    _sub(wrapper, f"{side}_funds_code", funds)
    if mine:
        account = ctx.session.get(Account, mine)
        assert account is not None
        _my_account(ctx, _sub(wrapper, f"{side}_account"), mine)
        from chainsleuth.store.models.exchange import Customer

        customer = ctx.session.get(Customer, account.customer_id)
        _sub(wrapper, f"{side}_country", _country(customer.country_of_residence if customer else None))
    else:
        _external_account(ctx, _sub(wrapper, f"{side}_account"), chain=chain, address=address, label=label)
        _sub(wrapper, f"{side}_country", country)


def _description(event: LedgerEvent) -> str:
    amount = f"{event.amount} {event.asset}" if event.amount is not None else (event.asset or "")
    parts = [f"{event.event_type.replace('_', ' ')} of {amount}"]
    if event.chain:
        parts.append(f"on {event.chain}")
    if event.address:
        parts.append(f"address {event.address}")
    if event.tx_hash:
        parts.append(f"transaction hash {event.tx_hash}")
    if event.event_type == "trade":
        parts.append(f"{event.side} against {event.quote_amount} {event.quote_asset} at {event.price}")
    if event.counterparty_account_id:
        parts.append(f"counterparty account {event.counterparty_account_id}")
    parts.append(f"(ledger event {event.event_id})")
    return " ".join(parts)


def _transaction(ctx: BuildContext, report: etree._Element, event: LedgerEvent) -> None:
    codes, entity = ctx.config.codes, ctx.config.reporting_entity
    crypto = (event.asset or "") not in FIAT_ASSETS
    funds = codes.funds["crypto" if crypto else "fiat"]
    tx = _sub(report, "transaction")
    _sub(tx, "transactionnumber", (event.tx_hash or event.event_id)[:100])
    _sub(tx, "internal_ref_number", event.event_id[:100])
    _sub(tx, "transaction_location", entity.transaction_location[:255])
    _sub(tx, "transaction_description", _clip(_description(event)))
    _sub(tx, "date_transaction", sql_date(event.timestamp))
    _sub(tx, "transmode_code", codes.transmode[event.event_type])
    _sub(tx, "transmode_comment", codes.transmode_comment)
    _sub(tx, "amount_local", _money(event.usd_value, ctx.config))
    kind = event.event_type
    bank_reference = ctx.bank_reference(event) if kind in ("fiat_deposit", "fiat_withdrawal") else None
    if kind in ("deposit", "fiat_deposit"):
        label = (f"Sender: the inputs of on-chain transaction {event.tx_hash}" if kind == "deposit"
                 else f"Customer's bank account, reference {bank_reference or 'not recorded'}")  # fmt: skip
        _party(ctx, tx, "from", mine=None, funds=funds, chain=event.chain, address=None if kind == "deposit"
               else bank_reference, label=label)  # fmt: skip
        _party(ctx, tx, "to", mine=event.account_id, funds=funds)
    elif kind in ("withdrawal", "fiat_withdrawal"):
        _party(ctx, tx, "from", mine=event.account_id, funds=funds)
        label = (f"Recipient wallet {event.address} on {event.chain}" if kind == "withdrawal"
                 else f"Customer's bank account, reference {bank_reference or 'not recorded'}")  # fmt: skip
        _party(ctx, tx, "to", mine=None, funds=funds, chain=event.chain,
               address=event.address if kind == "withdrawal" else bank_reference, label=label)  # fmt: skip
    else:  # internal transfer, trade: both sides are our customers' accounts
        _party(ctx, tx, "from", mine=event.account_id, funds=funds)
        _party(ctx, tx, "to", mine=event.counterparty_account_id or event.account_id, funds=funds)
    if crypto and event.amount is not None:
        item = _sub(_sub(tx, "goods_services"), "item")
        _sub(item, "item_type", codes.item_type)
        _sub(item, "item_make", event.asset)
        _sub(
            item, "description", _clip(f"{event.amount} {event.asset}" + (f" on {event.chain}" if event.chain else ""))
        )
        _sub(item, "estimated_value", _money(event.usd_value, ctx.config, "0.0001"))
        _sub(item, "currency_code", codes.currency_local)
        if event.address:
            _sub(item, "registration_number", event.address[:500])
        if event.tx_hash:
            _sub(item, "identification_number", event.tx_hash[:255])


def build_report(
    ctx: BuildContext,
    *,
    events: Sequence[LedgerEvent],
    entity_reference: str,
    reason: str,
    action: str,
    indicators: Sequence[str],
    report_code: str,
    now: datetime,
) -> bytes:
    """The report as UTF-8 XML bytes (validate with :func:`chainsleuth.cases.goaml.validate.validate`)."""
    entity, person, codes = ctx.config.reporting_entity, ctx.config.reporting_person, ctx.config.codes
    root = etree.Element("report")
    _sub(root, "rentity_id", str(entity.rentity_id))
    _sub(root, "rentity_branch", entity.rentity_branch)
    _sub(root, "submission_code", codes.submission_code)
    _sub(root, "report_code", report_code)
    _sub(root, "entity_reference", entity_reference[:255])
    _sub(root, "submission_date", sql_date(now))
    _sub(root, "currency_code_local", codes.currency_local)
    reporter = _sub(root, "reporting_person")
    if person.title:
        _sub(reporter, "title", person.title)
    _sub(reporter, "first_name", to_ascii(person.first_name) or "-")
    _sub(reporter, "last_name", to_ascii(person.last_name) or "-")
    if person.email:
        _sub(reporter, "email", person.email)
    if person.occupation:
        _sub(reporter, "occupation", person.occupation)
    _sub(root, "reason", _clip(reason))
    _sub(root, "action", _clip(action))
    for event in events:
        _transaction(ctx, root, event)
    block = _sub(root, "report_indicators")
    for code in indicators:
        _sub(block, "indicator", code)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def report_events(session: Session, event_ids: Sequence[str]) -> list[LedgerEvent]:
    """The named events that are transactions, in booking order (others are left out)."""
    rows = session.scalars(
        select(LedgerEvent)
        .options(defer(LedgerEvent.bank_reference), defer(LedgerEvent.ip))  # read through reveal_ledger_field
        .where(LedgerEvent.event_id.in_(list(event_ids)), LedgerEvent.event_type.in_(MONEY_EVENTS))
    ).all()
    return sorted(rows, key=lambda row: (row.timestamp, row.event_id))


def indicators_for(config: GoamlConfig, categories: Sequence[str], explicit: Sequence[str] | None) -> list[str]:
    """Explicit indicator codes, else those mapped from exposure/alert categories, else the default ones."""
    if explicit:
        return list(dict.fromkeys(explicit))
    mapped = [config.indicators.categories[c] for c in categories if c in config.indicators.categories]
    return list(dict.fromkeys(mapped)) or list(config.indicators.default)
