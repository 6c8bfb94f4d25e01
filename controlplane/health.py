"""/health/: database, migrations applied, and with REDIS_URL set Redis and a Celery worker."""

import dataclasses
from typing import Any

import redis.asyncio
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from health_check.base import HealthCheck
from health_check.contrib.celery import Ping
from health_check.contrib.redis import Redis
from health_check.exceptions import ServiceUnavailable


@dataclasses.dataclass
class MigrationsApplied(HealthCheck):
    def run(self) -> None:
        try:
            executor = MigrationExecutor(connection)
            pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        finally:
            connection.close()  # this runs in an executor thread: leave no connection behind in it
        if pending:
            raise ServiceUnavailable("Migrations are not all applied")


def health_checks() -> list[Any]:
    checks: list[Any] = ["health_check.checks.Database", MigrationsApplied]
    if settings.REDIS_URL:
        # Celery's ping needs a broker with broadcast; the embedded filesystem broker has none.
        checks += [(Redis, {"client_factory": lambda: redis.asyncio.Redis.from_url(settings.REDIS_URL)}), Ping]
    return checks
