"""Sending a notification: HTTP POSTs to webhooks and Slack-compatible incoming webhooks, and email.

Webhook URLs could point anywhere the server can reach, so an address is refused when it is private, loopback,
link-local or otherwise not public (unless ALERTS_ALLOW_PRIVATE_URLS), checked when a channel is created and
again at each delivery, where the connection goes to the very address that was checked (DNS can change). No
redirect is followed, replies are read up to 1 KB, and every step has a timeout of a few seconds.
"""

import ipaddress
import json
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings
from django.core.mail import send_mail

EXCERPT_BYTES = 1024
USER_AGENT = "Pawprint-Alerts/1.0"


class UnsafeUrl(Exception):
    """A URL that must not be sent to; the message says why, without repeating the URL."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve_target(url: str) -> Target:
    """Where a POST to `url` goes: its parts and the one address to connect to; UnsafeUrl when it is not an
    http(s) URL, does not resolve, or (unless private URLs are allowed) resolves to a non-public address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("Use an http:// or https:// URL.")
    if parts.username or parts.password:
        raise UnsafeUrl("Credentials in the URL are not supported.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (ValueError, OSError) as error:  # a bad port, or a name that does not resolve
        raise UnsafeUrl("The host does not resolve.") from error
    addresses = [str(info[4][0]) for info in infos]
    if not settings.ALERTS_ALLOW_PRIVATE_URLS and not all(_is_public(address) for address in addresses):
        raise UnsafeUrl("The host resolves to a private, loopback or link-local address.")
    path = parts.path or "/"
    return Target(parts.scheme, parts.hostname, port, f"{path}?{parts.query}" if parts.query else path, addresses[0])


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: a status code and the start of the reply, or an error (never the URL or a secret)."""

    delivered: bool
    status_code: int | None = None
    excerpt: str = ""
    error: str = ""


def _pool(target: Target) -> urllib3.HTTPConnectionPool:
    timeout = urllib3.Timeout(connect=settings.ALERTS_TIMEOUT_SECONDS, read=settings.ALERTS_TIMEOUT_SECONDS)
    if target.scheme == "https":
        # Connect to the checked address; verify the certificate against the URL's host name.
        return urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=timeout,
            retries=False,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
        )
    return urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeout, retries=False)


def post_json(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    """POST a JSON body to a URL that passes `resolve_target` now, following no redirect."""
    try:
        target = resolve_target(url)
    except UnsafeUrl as error:
        return Outcome(False, error=str(error))
    default_port = 443 if target.scheme == "https" else 80
    host = target.host if ":" not in target.host else f"[{target.host}]"
    headers = {
        "Host": host if target.port == default_port else f"{host}:{target.port}",
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **headers,
    }
    pool = _pool(target)
    try:
        response = pool.urlopen(
            "POST", target.path, body=body, headers=headers, redirect=False, preload_content=False, retries=False
        )
        try:
            excerpt = response.read(EXCERPT_BYTES).decode("utf-8", errors="replace")
        finally:
            response.release_conn()
    except urllib3.exceptions.TimeoutError:
        return Outcome(False, error="Timed out.")
    except urllib3.exceptions.SSLError:
        return Outcome(False, error="TLS error (certificate or handshake).")
    except urllib3.exceptions.HTTPError:
        return Outcome(False, error="Connection failed.")
    finally:
        pool.close()
    if 300 <= response.status < 400:
        return Outcome(False, response.status, excerpt, error="Redirects are not followed.")
    return Outcome(200 <= response.status < 300, response.status, excerpt)


def json_body(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def send_email(address: str, subject: str, text: str) -> Outcome:
    try:
        send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, [address])
    except (OSError, UnicodeError) as error:  # SMTP failures are OSErrors
        return Outcome(False, error=f"Mail not sent ({type(error).__name__}).")
    return Outcome(True)
