"""Partner systems authenticate with `Authorization: Api-Key <key>` (a PartnerKey).

Staff DRF tokens (`Authorization: Token <key>`) keep working beside it for now; a partner key
is never accepted under the `Token` keyword, so each header names the kind of key it carries.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from channels.api.models import PartnerKey

KEYWORD = "Api-Key"
# The library's keys: 8 letters or digits, a dot, 32 more. Anything else is refused before a
# query (a NUL byte would make PostgreSQL raise rather than find nothing).
KEY_SHAPE = re.compile(r"[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}")

KEY_REFUSED = _("APIキーが正しくないか、失効または有効期限切れです。")


class PartnerKeyAuthentication(BaseAuthentication):
    """request.user becomes the key's user and request.auth the PartnerKey.

    A revoked, expired or unknown key is 401 authentication_failed with one message for all
    three: the caller learns nothing about which keys exist.
    """

    def authenticate(self, request: Request) -> tuple[Any, PartnerKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None  # another scheme's header, or none: not ours to judge
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(KEY_REFUSED)
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(KEY_REFUSED) from None
        if not KEY_SHAPE.fullmatch(key):
            raise exceptions.AuthenticationFailed(KEY_REFUSED)
        try:
            # Skips revoked keys and compares the hash in constant time.
            partner_key = PartnerKey.objects.get_from_key(key)
        except PartnerKey.DoesNotExist:
            raise exceptions.AuthenticationFailed(KEY_REFUSED) from None
        assert isinstance(partner_key, PartnerKey)
        if partner_key.has_expired or not partner_key.user.is_active:
            raise exceptions.AuthenticationFailed(KEY_REFUSED)
        return partner_key.user, partner_key

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


def partner_key(request: Request) -> PartnerKey | None:
    """The request's PartnerKey, or None for a staff token or an anonymous caller."""
    auth = request.auth
    return auth if isinstance(auth, PartnerKey) else None


class PartnerKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """The partner key in the OpenAPI schema, beside DRF's `tokenAuth`."""

    target_class = PartnerKeyAuthentication
    name = "partnerKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'Partner key with the prefix "Api-Key" (Authorization: Api-Key '
            "<key>): scoped to operations and municipalities, with an expiry.",
        }
