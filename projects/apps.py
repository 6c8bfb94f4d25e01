from django.apps import AppConfig
from django.core import checks


class ProjectsConfig(AppConfig):
    name = "projects"

    def ready(self) -> None:
        from projects import schema  # noqa: F401 - registers the API-key security scheme
        from projects.gate import check_project_routes

        checks.register(check_project_routes, checks.Tags.urls)
