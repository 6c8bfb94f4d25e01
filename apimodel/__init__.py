"""Pawprint's API inference engine: HAR entries → witnesses → API model → OpenAPI.

Plain typed Python with no Django import, so the daemon and the server share it; the daemon imports only what
the standard library runs (the OpenAPI writer and the builder state use orjson: `apimodel.openapi`, `.state`).
"""

from apimodel.builder import ModelBuilder, PathHints
from apimodel.diff import diff_models
from apimodel.witness import InvalidEntry, redact_entry, witness_from_entry

__all__ = [
    "InvalidEntry",
    "ModelBuilder",
    "PathHints",
    "diff_models",
    "redact_entry",
    "witness_from_entry",
]
