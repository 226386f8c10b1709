"""Protect: field-level encryption, pseudonyms, purpose-logged reveals, access policy and the audit log.

``crypto`` (keys, ciphertext, blind indexes), ``columns`` (the encrypting column type), ``keyring`` (which key
an engine uses), ``fields`` (loader batches, search, re-indexing), ``rotation``, ``policy`` (the permission
matrix), ``reveal`` (pseudonymised views and reveals) and ``audit`` (the hash-chained log). See docs/privacy.md.
"""
