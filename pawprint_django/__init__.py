"""Pawprint's Django middleware: a drop-in for akita-django that never hurts the app.

Add `"pawprint_django.middleware.PawprintMiddleware"` first in `MIDDLEWARE` and set `PAWPRINT_PROJECT`
(or keep Akita's `AKITA_SERVICE_NAME`). It long-polls the agent (`pawprint-agent`) for active traces and,
while one is active, sends each request and response to it, obfuscated in this process. It works under WSGI
and ASGI, never raises into the app, and drops (and counts) what it cannot send instead of slowing requests.
"""

__version__ = "0.2.0"
