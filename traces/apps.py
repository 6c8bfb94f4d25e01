from django.apps import AppConfig


class TracesConfig(AppConfig):
    name = "traces"

    def ready(self) -> None:
        from prometheus_client import REGISTRY

        from controlplane.metrics import WorkCollector

        REGISTRY.register(WorkCollector())
