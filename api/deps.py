"""What every route needs: the workbench and who is acting (from the request's API key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from core.records import Actor, Channel
from core.workbench import Workbench


def acting(request: Request) -> Actor:
    """The user the request's key acts as: `Authorization: Bearer <key>` (or an `api-key` header)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.strip().partition(" ")
    secret = token.strip() if scheme.lower() == "bearer" else ""
    secret = secret or request.headers.get("api-key", "") or request.headers.get("x-api-key", "")
    actor = workbench(request).keys.authenticate(secret, Channel.API)
    request.state.actor = actor
    return actor


def workbench(request: Request) -> Workbench:
    wb: Workbench = request.app.state.wb
    return wb


Me = Annotated[Actor, Depends(acting)]
Wb = Annotated[Workbench, Depends(workbench)]
