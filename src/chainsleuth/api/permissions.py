"""FastAPI dependencies over the one permission matrix (:mod:`chainsleuth.privacy.policy`).

Routers declare what an endpoint needs, not which roles may call it::

    Revealer = Annotated[Principal, Depends(requires("customer.reveal"))]

so that the access policy stays in one table that auditors can read and tests check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends

from chainsleuth.api.deps import Principal, current_principal
from chainsleuth.privacy.policy import PERMISSIONS, require


def requires(permission: str) -> Callable[[Principal], Principal]:
    """A dependency admitting only callers whose role holds ``permission`` (401 unauthenticated, 403 denied)."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")  # a typo fails at import, not at request time

    def _check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        require(principal, permission)
        return principal

    _check.__name__ = f"requires_{permission.replace('.', '_')}"
    return _check
