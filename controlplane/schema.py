"""What every API module's schema shares: the error shape, the errors an operation may answer, and the
description of path parameters (a postprocessing hook)."""

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

ERROR_MEANINGS = {
    400: "Bad input: `error.field` names the input at fault.",
    401: "No API key or session, or a wrong or revoked key (the reply carries `WWW-Authenticate`).",
    403: "Not allowed: an ingest-scope key on a user endpoint, or a member on an owner-only action.",
    404: "Unknown, or not yours to see.",
    409: "In conflict with what is stored.",
    410: "The trace is closed and its grace period over: it takes no more witnesses.",
    413: "The body is too large.",
    429: "Too many requests: retry after `Retry-After` seconds.",
}
PATH_PARAMETERS = {
    "project": "A project: its id (`prj_…`) or its name.",
    "trace": "A trace of the project: its id (`trc_…`) or its name.",
    "key_id": "An API key's id (`apk_…`).",
}


class ErrorDetailSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="Machine-readable: invalid, not_found, conflict, throttled, …")
    message = serializers.CharField(help_text="What went wrong, for people.")
    field = serializers.CharField(required=False, help_text="The input at fault, e.g. `entries[3].request.url`.")


class ErrorSerializer(serializers.Serializer[Any]):
    error = ErrorDetailSerializer()


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """The error responses of an operation, each with what it means."""
    return {status: OpenApiResponse(ErrorSerializer, description=ERROR_MEANINGS[status]) for status in statuses}


def describe_path_parameters(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Postprocessing hook: every `{project}`, `{trace}` or `{key_id}` in a path says what it takes."""
    for operations in result["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] in PATH_PARAMETERS:
                    parameter["description"] = PATH_PARAMETERS[parameter["name"]]
    return result
