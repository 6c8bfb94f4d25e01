from django.apps import AppConfig


class DaemonsConfig(AppConfig):
    name = "daemons"

    def ready(self) -> None:
        from daemons.selectors import DaemonReaches
        from traces.reach import register

        register(DaemonReaches())
