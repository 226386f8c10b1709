"""Protect: field-level encryption, pseudonyms, purpose-logged reveals, access policy and the audit log."""
