"""The API-key security scheme in the OpenAPI schema (loaded by ProjectsConfig.ready)."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]  # drf-spectacular registers it
    target_class = "projects.auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "basic",
            "description": "An API key as HTTP Basic credentials `KEY_ID:SECRET` (create one under Settings → "
            "API keys, or `manage.py createapikey`). Scope `ingest` reaches the daemon endpoints only; "
            "`full` reaches everything its user can do.",
        }
