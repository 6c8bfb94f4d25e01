"""Data written before models moved to apimodels, and were stored once, survives the migrations."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE: list[tuple[str, str | None]] = [("projects", "0001_initial"), ("traces", "0001_initial"), ("apimodels", None)]
T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)
HINTS = {"force": ["/files/{path}"], "static": ["/users/me"], "hidden": [], "show_default_hidden": True}


@pytest.fixture
def migrator(transactional_db: None) -> Iterator[MigrationExecutor]:
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(BEFORE)
    yield executor
    executor = MigrationExecutor(connection)
    executor.migrate(latest)


def migrate_to_latest(executor: MigrationExecutor) -> Any:
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(latest)
    return executor.loader.project_state(latest).apps


def test_models_endpoints_and_path_hints_survive_the_move(migrator: MigrationExecutor) -> None:
    old = migrator.loader.project_state([(app, name) for app, name in BEFORE if name]).apps
    user = old.get_model("projects", "User").objects.create(username="alice", public_id="usr_1")
    project = old.get_model("projects", "Project").objects.create(
        owner=user, name="shop", public_id="prj_1", path_hints=HINTS
    )
    plain = old.get_model("projects", "Project").objects.create(owner=user, name="plain", public_id="prj_2")
    trace = old.get_model("traces", "Trace").objects.create(
        project=project, name="t", public_id="trc_1", started_at=T0, ends_at=T0
    )
    endpoint = {"method": "GET", "host": "api.shop.test", "path": "/v1/products", "count": 3}
    model = old.get_model("traces", "ApiModel").objects.create(
        project=project,
        trace=trace,
        version=1,
        public_id="mdl_1",
        status="ready",
        path_hints={},
        document={
            "witness_count": 3,
            "servers": ["https://api.shop.test"],
            "endpoints": [endpoint],
            "security_schemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    )
    old.get_model("traces", "Endpoint").objects.create(
        api_model=model,
        public_id="ept_1",
        method="GET",
        host="api.shop.test",
        path="/v1/products",
        count=3,
        auth="",
        status_codes=",200,",
        detail=endpoint,
    )

    new = migrate_to_latest(migrator)

    version = new.get_model("apimodels", "ModelVersion").objects.get(public_id="mdl_1")
    assert (version.trace.public_id, version.project.public_id, version.status) == ("trc_1", "prj_1", "ready")
    assert version.path_hints == {"force": [], "static": [], "hidden": [], "show_default_hidden": False}
    assert (version.witness_count, version.servers) == (3, ["https://api.shop.test"])
    assert version.security_schemes == {"bearer": {"type": "http", "scheme": "bearer"}}
    (row,) = version.endpoints.all()
    assert (row.public_id, row.path, row.detail) == ("ept_1", "/v1/products", endpoint)
    hints = new.get_model("apimodels", "ProjectPathHints").objects.get(project__public_id=project.public_id)
    assert {name: getattr(hints, name) for name in HINTS} == HINTS
    assert not new.get_model("apimodels", "ProjectPathHints").objects.filter(project__public_id=plain.public_id)
