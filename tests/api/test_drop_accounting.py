"""Drop accounting on the server: a batch's `dropped` adds to its trace once (like the batch), a heartbeat's
`traffic` is kept per daemon, and both are shown by the API; bad values are a 400 naming the field."""

import json
from datetime import UTC, datetime

import pytest
import time_machine

from apimodel.witness import witness_from_entry
from apimodel.witness_form import WITNESS_FORMAT, witness_json
from controlplane.drops import drops_explained, drops_text
from daemons.models import Daemon
from traces.models import Trace, WitnessBatch

T0 = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)
HEARTBEAT = "/api/v1/daemon/heartbeat"


def url(trace: Trace) -> str:
    return f"/api/v1/projects/shop/traces/{trace.public_id}/witnesses"


def witnesses_body(entry, batch_id: str, dropped: object) -> dict:
    made = [json.loads(witness_json(witness_from_entry(entry())))]
    return {
        "daemon_name": "web-1",
        "batch_id": batch_id,
        "witness_format": WITNESS_FORMAT,
        "witnesses": made,
        "dropped": dropped,
    }


def entries_body(entry, batch_id: str, dropped: object) -> dict:
    return {"daemon_name": "web-1", "batch_id": batch_id, "entries": [entry()], "dropped": dropped}


@pytest.mark.parametrize("make_body", [witnesses_body, entries_body])
def test_a_batchs_drops_add_to_its_trace_once_per_batch_id(daemon, trace, entry, alice, key_client, make_body):
    first = make_body(entry, "b-1", {"queue_full": 3, "buffer_full": 1})
    assert daemon.post(url(trace), first, format="json").json() == {"accepted": 1, "duplicate": False}
    assert daemon.post(url(trace), first, format="json").json() == {"accepted": 0, "duplicate": True}
    # A batch of no entries carries drops that no entry followed.
    empty = {**make_body(entry, "b-2", {"queue_full": 2, "sampled_out": 0})}
    empty["witnesses" if "witnesses" in empty else "entries"] = []
    assert daemon.post(url(trace), empty, format="json").json() == {"accepted": 0, "duplicate": False}
    assert Trace.objects.get(pk=trace.pk).dropped == {"buffer_full": 1, "queue_full": 5}
    shown = key_client(alice).get(f"/api/v1/projects/shop/traces/{trace.public_id}").json()
    assert (shown["witness_count"], shown["dropped"]) == (1, {"buffer_full": 1, "queue_full": 5})


def test_a_batch_without_drops_leaves_the_count_empty(daemon, trace, entry) -> None:
    body = entries_body(entry, "b-1", {})
    del body["dropped"]
    assert daemon.post(url(trace), body, format="json").status_code == 202
    assert Trace.objects.get(pk=trace.pk).dropped == {}


@pytest.mark.parametrize("make_body", [witnesses_body, entries_body])
@pytest.mark.parametrize(
    ("dropped", "field"),
    [
        ([3], "dropped"),
        ("queue_full", "dropped"),
        ({"queue_full": -1}, "dropped.queue_full"),
        ({"queue_full": "many"}, "dropped.queue_full"),
        ({"queue_full": 2**60}, "dropped.queue_full"),
        ({"queue_full": None}, "dropped.queue_full"),
        ({"Queue Full": 1}, "dropped.Queue Full"),
        ({"x" * 41: 1}, "dropped." + "x" * 40),
        ({"": 1}, "dropped"),
        ({f"r{index}": 1 for index in range(33)}, "dropped"),
    ],
)
def test_bad_drops_are_a_400_naming_the_field_and_store_nothing(daemon, trace, entry, make_body, dropped, field):
    response = daemon.post(url(trace), make_body(entry, "b-1", dropped), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert not WitnessBatch.objects.exists()
    assert Trace.objects.get(pk=trace.pk).dropped == {}


def traffic(project: str = "shop", **more: object) -> dict:
    return {
        "project": project,
        "since": "2026-01-05T11:00:00Z",
        "received": 12408,
        "uploaded": 12400,
        "pending": 5,
        "dropped": {"queue_full": 3, "buffer_full": 3},
        **more,
    }


def test_a_heartbeats_traffic_is_kept_per_daemon_and_shown(alice, project, daemon, key_client) -> None:
    viewer = key_client(alice)
    with time_machine.travel(T0, tick=False):
        body = {"daemon_name": "web-1", "projects": ["shop"]}
        assert daemon.post(HEARTBEAT, body, format="json").status_code == 200
        assert viewer.get("/api/v1/projects/shop/daemons").json()["results"][0]["traffic"] is None
        assert daemon.post(HEARTBEAT, {**body, "traffic": [traffic()]}, format="json").status_code == 200
        [shown] = viewer.get("/api/v1/projects/shop/daemons").json()["results"]
        assert shown["traffic"] == {
            "since": "2026-01-05T11:00:00Z",
            "received": 12408,
            "uploaded": 12400,
            "pending": 5,
            "dropped": {"buffer_full": 3, "queue_full": 3},
        }
        # The latest report replaces the last; a heartbeat without traffic keeps it.
        later = traffic(project.public_id, received=12500, uploaded=12500, pending=0, dropped={})
        assert daemon.post(HEARTBEAT, {**body, "traffic": [later]}, format="json").status_code == 200
        assert daemon.post(HEARTBEAT, body, format="json").status_code == 200
        assert Daemon.objects.get().traffic == {
            "since": "2026-01-05T11:00:00+00:00",
            "received": 12500,
            "uploaded": 12500,
            "pending": 0,
            "dropped": {},
        }


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (traffic("elsewhere"), "traffic[0].project"),
        ({k: v for k, v in traffic().items() if k != "received"}, "traffic[0].received"),
        (traffic(since="yesterday"), "traffic[0].since"),
        (traffic(pending=-1), "traffic[0].pending"),
        (traffic(dropped={"queue_full": -3}), "traffic[0].dropped.queue_full"),
        (traffic(dropped=[]), "traffic[0].dropped"),
    ],
)
def test_bad_traffic_is_a_400_naming_the_field(project, daemon, item: dict, field: str) -> None:
    response = daemon.post(HEARTBEAT, {"daemon_name": "web-1", "projects": ["shop"], "traffic": [item]}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert not Daemon.objects.exists()


def test_traffic_is_bounded_like_the_other_lists(project, daemon) -> None:
    body = {"daemon_name": "web-1", "projects": ["shop"], "traffic": [traffic()] * 101}
    response = daemon.post(HEARTBEAT, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "traffic"


def test_drops_read_as_the_console_says_them() -> None:
    assert drops_text({}) == ""
    assert drops_text({"queue_full": 3}) == "3 dropped: queue full"
    assert drops_text({"queue_full": 1200, "buffer_full": 3, "sampled_out": 0}) == (
        "1,203 dropped: 1,200 queue full, 3 buffer full"
    )
    # A reason this server does not know (a newer agent's) is shown by its name, without an explanation.
    assert drops_text({"new_reason": 2}) == "2 dropped: new reason"
    assert drops_explained({"buffer_full": 1, "new_reason": 2}) == "buffer full: the agent's memory cap was reached"
