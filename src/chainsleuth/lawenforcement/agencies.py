"""The agency registry: who may send requests, from which official domains, and whom staff may call back.

Loaded from a YAML or CSV file (``data/agencies.example.yaml`` shows the format with fictional agencies) and kept
by administrators (``agency.manage``). Loading is an upsert by ``agency_id``: a file can be re-loaded after an
agency changes its domains or contacts, and every change is audited. Call-back numbers are only ever taken from
here, never from a request, because a forged request would otherwise bring its own "verification" number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.cases.common import moment
from chainsleuth.errors import InvalidInputError, MalformedFileError, NotFoundError
from chainsleuth.lawenforcement.domains import is_valid_hostname, normalise_domain
from chainsleuth.lawenforcement.sealing import parse_public_key
from chainsleuth.privacy import audit
from chainsleuth.privacy.policy import Actor, require
from chainsleuth.store.models.lawenforcement import LeAgency

EXAMPLE_FILE = Path(__file__).resolve().parent / "data" / "agencies.example.yaml"


def _clean(entry: Mapping[str, Any], where: str) -> dict[str, Any]:
    agency_id = str(entry.get("agency_id") or "").strip().upper()
    name = str(entry.get("name") or "").strip()
    country = str(entry.get("country") or "").strip().upper()
    if not agency_id or len(agency_id) > 64 or not name:
        raise InvalidInputError(f"{where}: agency_id and name are required", where=where)
    if len(country) != 2 or not country.isalpha():
        raise InvalidInputError(f"{where}: country must be a two-letter ISO code", where=where, country=country)
    domains = [normalise_domain(str(d)) for d in entry.get("domains") or []]
    if not domains:
        raise InvalidInputError(f"{where}: at least one official domain is required", where=where)
    for domain in domains:
        if not is_valid_hostname(domain):
            raise InvalidInputError(f"{where}: {domain!r} is not a valid ASCII domain", where=where)
    jurisdictions = sorted({str(j).strip().upper() for j in entry.get("jurisdictions") or [country]})
    contacts = []
    for contact in entry.get("contacts") or []:
        phone = str(contact.get("phone") or "").strip()
        if not phone or sum(ch.isdigit() for ch in phone) < 6:
            raise InvalidInputError(f"{where}: every contact needs a phone number", where=where)
        contacts.append({"name": str(contact.get("name") or "").strip() or "contact", "phone": phone,
                         "email": str(contact.get("email") or "").strip(),
                         "role": str(contact.get("role") or "").strip()})  # fmt: skip
    public_key = str(entry.get("public_key") or "").strip() or None
    if public_key is not None:
        parse_public_key(public_key)
    return {"agency_id": agency_id, "name": name, "country": country, "jurisdictions": jurisdictions,
            "domains": sorted(set(domains)), "contacts": contacts, "public_key": public_key,
            "active": bool(entry.get("active", True))}  # fmt: skip


def parse_registry(text: str, *, path: str = "<agencies>") -> list[dict[str, Any]]:
    """Agency entries from YAML (``agencies:`` list) or CSV (domains/jurisdictions ``;``-separated,
    ``contact_name``/``contact_phone``/``contact_email`` for one contact)."""
    entries: list[Mapping[str, Any]]
    if path.lower().endswith(".csv"):
        entries = []
        for row in csv.DictReader(io.StringIO(text)):
            entry: dict[str, Any] = dict(row)
            for key in ("domains", "jurisdictions"):
                entry[key] = [v for v in (row.get(key) or "").split(";") if v.strip()]
            if row.get("contact_phone"):
                entry["contacts"] = [{"name": row.get("contact_name"), "phone": row.get("contact_phone"),
                                      "email": row.get("contact_email")}]  # fmt: skip
            entries.append(entry)
    else:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise MalformedFileError(f"not valid YAML: {error}", path=path) from error
        raw = document.get("agencies") if isinstance(document, dict) else document
        if not isinstance(raw, list):
            raise MalformedFileError("expected a list of agencies under `agencies:`", path=path)
        entries = [e for e in raw if isinstance(e, Mapping)]
        if len(entries) != len(raw):
            raise MalformedFileError("every agency must be a mapping", path=path)
    return [_clean(entry, f"{path} entry {number}") for number, entry in enumerate(entries, start=1)]


def upsert_agencies(
    session: Session, actor: Actor, entries: Iterable[Mapping[str, Any]], now: datetime | None = None
) -> list[LeAgency]:
    """Create or update agencies by id (``agency.manage``); every created or changed agency is audited."""
    require(actor, "agency.manage")
    at = moment(now)
    result = []
    for entry in entries:
        agency = session.get(LeAgency, entry["agency_id"])
        verb = "agency.update"
        if agency is None:
            agency = LeAgency(agency_id=entry["agency_id"], created_at=at)
            session.add(agency)
            verb = "agency.create"
        changed = [key for key, value in entry.items() if getattr(agency, key, None) != value]
        for key in changed:
            setattr(agency, key, entry[key])
        if changed:
            agency.updated_at = at
            audit.record(session, actor, verb, "le_agency", agency.agency_id, details={"changed": changed})
        result.append(agency)
    session.flush()
    return result


def load_registry(session: Session, actor: Actor, path: Path, now: datetime | None = None) -> list[LeAgency]:
    """Parse ``path`` (YAML or CSV) and upsert its agencies."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise MalformedFileError(f"cannot read the agency file: {error.strerror}", path=str(path)) from error
    return upsert_agencies(session, actor, parse_registry(text, path=str(path)), now)


def get_agency(session: Session, agency_id: str) -> LeAgency:
    """The agency, or NotFoundError."""
    agency = session.get(LeAgency, agency_id)
    if agency is None:
        raise NotFoundError("no such agency", agency_id=agency_id)
    return agency


def list_agencies(session: Session, *, active_only: bool = False) -> list[LeAgency]:
    """Every agency, by id."""
    query = select(LeAgency).order_by(LeAgency.agency_id)
    if active_only:
        query = query.where(LeAgency.active.is_(True))
    return list(session.scalars(query))


def domain_registry(session: Session) -> dict[str, str]:
    """Official domain -> agency id, over the active agencies."""
    return {
        domain: agency.agency_id for agency in list_agencies(session, active_only=True) for domain in agency.domains
    }


def agency_view(agency: LeAgency) -> dict[str, Any]:
    """An agency as plain data (its contacts are for staff: the portal shows officers their own agency only)."""
    return {"agency_id": agency.agency_id, "name": agency.name, "country": agency.country,
            "jurisdictions": agency.jurisdictions, "domains": agency.domains, "contacts": agency.contacts,
            "has_public_key": agency.public_key is not None, "active": agency.active}  # fmt: skip
