"""API keys over HTTP Basic (`KEY_ID:SECRET`, like Akita's CLI), scopes, and the DRF classes."""

import base64
import binascii
import functools
import hmac
from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django_htmx.middleware import HtmxDetails
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request
from rest_framework.throttling import UserRateThrottle

from controlplane.cache import count_in_window
from controlplane.rows import columns, fetch_one, instance, table, width
from projects.models import ApiKey, User
from projects.services import hash_secret

LAST_USED_RESOLUTION = timedelta(minutes=1)
REALM = 'Basic realm="pawprint"'


class ConsoleRequest(HttpRequest):
    """The request of a console view that requires a login (for type checking): a user, and htmx's details."""

    user: User
    htmx: HtmxDetails


class ApiRequest(Request):
    """The request of an API view whose permission requires authentication (for type checking)."""

    user: User


def parse_basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    key_id, sep, secret = decoded.partition(":")
    return (key_id, secret) if sep else None


@functools.cache
def _key_and_user_sql() -> str:
    """An unrevoked key by its public id, and its user (fixed SQL: `controlplane.rows`)."""
    return (
        f"SELECT {columns(ApiKey, 'k')}, {columns(User, 'u')} FROM {table(ApiKey)} k"  # noqa: S608 - value bound
        f" JOIN {table(User)} u ON u.id = k.user_id WHERE k.public_id = %s AND k.revoked_at IS NULL"
    )


def authenticate_api_key(header: str) -> ApiKey | None:
    """The key named by an Authorization header, or None if it is absent, wrong or revoked."""
    credentials = parse_basic_credentials(header)
    if credentials is None:
        return None
    key_id, secret = credentials
    row = fetch_one(_key_and_user_sql(), [key_id])
    if row is None:
        return None
    key = instance(ApiKey, row)
    key.user = instance(User, row, width(ApiKey))
    if not key.user.is_active:
        return None
    if not hmac.compare_digest(key.secret_hash, hash_secret(secret)):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        ApiKey.objects.filter(stale, pk=key.pk).update(last_used_at=now)
    return key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[User, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.lower().startswith("basic "):
            return None
        key = authenticate_api_key(header)
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        return key.user, key

    def authenticate_header(self, request: Request) -> str:
        return REALM


class FullAccess(permissions.IsAuthenticated):
    """Sessions and `full` keys may do what the user can do; `ingest` keys only what a daemon needs."""

    message = "This API key has the ingest scope; this endpoint needs a full-scope key or a session."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not super().has_permission(request, view):
            return False
        return not isinstance(request.auth, ApiKey) or request.auth.scope == ApiKey.Scope.FULL


class IngestAccess(permissions.IsAuthenticated):
    """Daemon endpoints: any valid key or session."""


class WindowRateThrottle(UserRateThrottle):
    """A user's rate counted in fixed windows (`count_in_window`), rather than DRF's list of the time of every
    request in the period, read and written whole on each request (6,000 of them at full ingest rate)."""

    seconds_left = 0.0

    def allow_request(self, request: Request, view: Any) -> bool:
        key = self.get_cache_key(request, view)
        limit, duration = self.parse_rate(self.rate)
        if limit is None or duration is None or key is None:
            return True
        count, self.seconds_left = count_in_window(key, duration)
        return bool(count <= limit)

    def wait(self) -> float:
        return self.seconds_left


class IngestThrottle(WindowRateThrottle):
    """Heartbeats and witness uploads: INGEST_RATE per user, all their daemons together."""

    scope = "ingest"


class PollThrottle(WindowRateThrottle):
    """Long polls: POLL_RATE per user; a daemon re-polling in a loop is refused with 429 and Retry-After."""

    scope = "poll"
