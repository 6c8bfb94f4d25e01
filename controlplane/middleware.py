import gzip
import io
import zlib
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.decorators import sync_and_async_middleware
from whitenoise.middleware import WhiteNoiseMiddleware

from controlplane.error_handlers import error_body


def refuse_nul_characters(request: HttpRequest) -> HttpResponse | None:
    """A NUL in the URL can name nothing here, and PostgreSQL refuses it in a query: answer 400 up front."""
    if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
        return JsonResponse(error_body("invalid", "The URL contains a NUL character."), status=400)
    return None


def body_limit(request: HttpRequest) -> int | None:
    """The most bytes the request's endpoint takes (inflated, for a gzip body); None off the API, where Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE applies."""
    if not request.path_info.startswith("/api/"):
        return None
    try:
        name = (request.resolver_match or resolve(request.path_info)).view_name  # the handler may have resolved it
    except Resolver404:
        name = ""
    limit: int = getattr(settings, settings.API_BODY_LIMITS.get(name, "API_BODY_MAX_BYTES"))
    return limit


def _too_large(limit: int) -> JsonResponse:
    return JsonResponse(error_body("too_large", f"This endpoint takes bodies of at most {limit} bytes."), status=413)


def refuse_large_body(request: HttpRequest) -> HttpResponse | None:
    """Answer 413 before reading a body larger than its endpoint takes, and inflate a gzip body up to that."""
    limit = body_limit(request)
    if limit is not None and int(request.META.get("CONTENT_LENGTH") or 0) > limit:
        return _too_large(limit)
    return inflate_gzip_body(request, limit)


def inflate_gzip_body(request: HttpRequest, limit: int | None) -> HttpResponse | None:
    """Replace a gzip request body by its inflated bytes; an error response if it can't."""
    if request.META.get("HTTP_CONTENT_ENCODING", "").lower() != "gzip":
        return None
    limit = limit or settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(request.body)) as stream:
            body = stream.read(limit + 1)
    except (OSError, EOFError, zlib.error):
        return JsonResponse(error_body("invalid", "The body is not valid gzip."), status=400)
    if len(body) > limit:
        return _too_large(limit)
    request._body = body
    request._stream = io.BytesIO(body)
    request.META["CONTENT_LENGTH"] = str(len(body))
    del request.META["HTTP_CONTENT_ENCODING"]
    return None


def check_request(request: HttpRequest) -> HttpResponse | None:
    return refuse_nul_characters(request) or refuse_large_body(request)


@sync_and_async_middleware
def request_checks_middleware(get_response: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
    """Refuse NUL characters in URLs and bodies larger than their endpoint takes, and inflate gzip bodies
    (daemons gzip witness batches).
    Async-capable, so that an async view holds no thread (the long poll calls `check_request` itself)."""
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            return check_request(request) or await get_response(request)

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        return check_request(request) or get_response(request)

    return middleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise made async-capable: a sync middleware would pin every async request to a thread."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        super().__init__(get_response)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.serve_or_pass_async(request)
        return super().__call__(request)

    async def serve_or_pass_async(self, request: HttpRequest) -> HttpResponse:
        static_file = self.find_file(request.path_info) if self.autorefresh else self.files.get(request.path_info)
        response: HttpResponse = self.serve(static_file, request) if static_file else await self.get_response(request)
        return response
