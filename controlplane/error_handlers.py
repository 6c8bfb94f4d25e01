"""The one place domain errors become HTTP: JSON `{"error": {"code", "message", "field"?}}` for the API
(`api_exception_handler`, with DRF's own errors), an error page for the console (`ConsoleErrorsMiddleware`)."""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.deprecation import MiddlewareMixin
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from controlplane.errors import Conflict, DomainError, Forbidden, Gone, Invalid, NotFound, TooLarge

HTTP_STATUS: dict[type[DomainError], int] = {
    Invalid: 400,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Gone: 410,
    TooLarge: 413,
}


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return {"error": error}


def domain_error_body(error: DomainError) -> tuple[int, dict[str, Any]]:
    """The API's status and JSON body for a domain error."""
    message = f"{error.field}: {error.message}" if error.field else error.message
    return HTTP_STATUS[type(error)], error_body(error.code, message, error.field)


def first_field_error(detail: Any, prefix: str = "") -> tuple[str | None, str]:
    """The first (field path, message) in a nested DRF error detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            # DRF keys list-item errors by index.
            path = f"{prefix}[{key}]" if isinstance(key, int) else (f"{prefix}.{key}" if prefix else str(key))
            field, message = first_field_error(value, path)
            if key == "non_field_errors":
                field = prefix or None
            return field, message
    if isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                return first_field_error(value, f"{prefix}[{index}]")
            return prefix or None, str(value)
    return prefix or None, str(detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        status, body = domain_error_body(exc)
        return Response(body, status=status)
    if isinstance(exc, exceptions.ValidationError):
        field, message = first_field_error(exc.detail)
        exc = Invalid(message, field=field)
        status, body = domain_error_body(exc)
        return Response(body, status=status)
    response = exception_handler(exc, context)
    if response is None:
        return None
    assert isinstance(exc, exceptions.APIException)
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    response.data = error_body(str(code), str(exc.detail))
    return response


class ConsoleErrorsMiddleware(MiddlewareMixin):
    """Console pages: a domain error a view did not handle itself becomes an error page with its status."""

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, NotFound):
            return defaults.page_not_found(request, exception)
        if isinstance(exception, Forbidden):
            return defaults.permission_denied(request, exception)
        if isinstance(exception, DomainError):
            status = HTTP_STATUS[type(exception)]
            return render(request, "error.html", {"message": exception.message, "status": status}, status=status)
        return None


def _api_error(request: HttpRequest, status: int, code: str, message: str) -> JsonResponse | None:
    """The API's JSON error for /api/ URLs; None for the console, which shows a page."""
    return JsonResponse(error_body(code, message), status=status) if request.path.startswith("/api/") else None


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: what Django itself refuses (1,001 query parameters, a malformed multipart body)."""
    return _api_error(request, 400, "invalid", str(exception) or "Bad request.") or defaults.bad_request(
        request, exception
    )


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler403."""
    return _api_error(request, 403, "permission_denied", str(exception) or "Forbidden.") or defaults.permission_denied(
        request, exception
    )


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404."""
    return _api_error(request, 404, "not_found", "Not found.") or defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500."""
    return _api_error(request, 500, "server_error", "Internal error; it has been logged.") or defaults.server_error(
        request
    )
