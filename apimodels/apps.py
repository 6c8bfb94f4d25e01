from django.apps import AppConfig


class ApimodelsConfig(AppConfig):
    name = "apimodels"

    def ready(self) -> None:
        from apimodels.services import TraceModelBuilds
        from traces.builds import register

        register(TraceModelBuilds())
