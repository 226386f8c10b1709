"""Authentication: exchange a username and password for a bearer token; say who the caller is."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel
from sqlalchemy.orm import Session

from chainsleuth.api.deps import Principal, current_principal, get_session, get_signer
from chainsleuth.api.tokens import TokenSigner
from chainsleuth.store.users import authenticate

router = APIRouter(prefix="/api/auth", tags=["auth"])


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class Me(BaseModel):
    username: str
    display_name: str
    role: str
    agency_id: str | None


@router.post("/token", response_model=TokenResponse, summary="Log in with username and password")
def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: Annotated[Session, Depends(get_session)],
    signer: Annotated[TokenSigner, Depends(get_signer)],
) -> TokenResponse:
    """A bearer token for the API (OAuth2 password flow: the OpenAPI page's *Authorize* button uses it)."""
    user = authenticate(session, form.username, form.password)
    return TokenResponse(access_token=signer.issue(user.username), expires_in=signer.ttl_seconds)


@router.get("/me", response_model=Me, summary="Who am I")
def me(principal: Annotated[Principal, Depends(current_principal)]) -> Me:
    return Me(
        username=principal.username,
        display_name=principal.display_name,
        role=principal.role.value,
        agency_id=principal.agency_id,
    )
