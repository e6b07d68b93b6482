"""The request and response bodies of the email endpoints (webapp/email_api.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from webapp.schemas import RequestBody, ResponseBody, Text


class EmailRequest(RequestBody):
    """An email address."""

    email: Text = Field(description="Checked for syntax only; stored in lower case.", examples=["ann@example.com"])


class EmailConfirmRequest(RequestBody):
    """The code mailed to the address being confirmed."""

    code: Text = Field(description="6 digits.", examples=["042917"])


class EmailLoginVerifyRequest(RequestBody):
    """The address and the code mailed to it."""

    email: Text = Field(examples=["ann@example.com"])
    code: Text = Field(description="6 digits.", examples=["042917"])


class EmailCodeSent(ResponseBody):
    """A code is on its way (for sign-in: the same answer whether or not the address is known)."""

    status: Literal["code_sent"]
    expires_in: int = Field(description="Seconds the code is valid.", examples=[600])
