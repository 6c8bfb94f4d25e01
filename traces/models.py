import json
import zlib
from datetime import datetime
from typing import Any

import orjson
from django.conf import settings
from django.db import models

from apimodel.witness_form import read_bodies
from controlplane.ids import PublicIdField
from projects.models import Project


class TraceStatus(models.TextChoices):
    ACTIVE = "active"
    STOPPED = "stopped"
    FINISHED = "finished"


class Trace(models.Model):
    class Source(models.TextChoices):
        LIVE = "live"
        HAR = "har"

    public_id = PublicIdField(prefix="trc")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="traces")
    name = models.CharField(max_length=100)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.LIVE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    started_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    sampling_rate = models.FloatField(default=1.0)
    witness_count = models.PositiveIntegerField(default=0)
    # Entries stored cut to fit, by reason (`path_truncated`, `time_out_of_range`): see apimodel.witness.
    clamped = models.JSONField(default=dict, blank=True)
    # Entries daemons lost on the way, by reason (`queue_full`, `buffer_full`, …: see controlplane.drops), as the
    # batches reported them.
    dropped = models.JSONField(default=dict, blank=True)
    # Set when the build after the trace closed has been queued, so beat queues it once.
    final_build_queued_at = models.DateTimeField(null=True, blank=True)
    # A HAR upload's import: what was wrong with the file or its entries (the first few), and how many
    # entries were left out as invalid.
    import_errors = models.JSONField(default=list, blank=True)
    entries_skipped = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="trace_name_unique_per_project")]
        indexes = [models.Index(fields=["project", "ends_at"])]
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def closed_at(self) -> datetime:
        """When capture ended or ends: the stop (only ever before the end time), else the end time."""
        return self.stopped_at or self.ends_at

    def get_status(self, now: datetime) -> TraceStatus:
        if self.stopped_at is not None:
            return TraceStatus.STOPPED
        if now >= self.ends_at:
            return TraceStatus.FINISHED
        return TraceStatus.ACTIVE

    def accepts_witnesses(self, now: datetime) -> bool:
        """While active and for a grace period after (uploads in flight); never for an uploaded HAR."""
        return self.source == self.Source.LIVE and now < self.closed_at + settings.WITNESS_GRACE


def _compact(schema: Any) -> str:
    try:
        return orjson.dumps(schema).decode()
    except TypeError:  # a lone surrogate, which orjson could not read back: it becomes "?"
        return json.dumps(schema, separators=(",", ":"), ensure_ascii=False).encode(errors="replace").decode()


def _body_text(body: Any, texts: dict[int, str]) -> Any:
    """A body's schema as JSON text: the text as uploaded, or a schema made here written once per batch (the
    schemas `witness_from_entry` makes are shared by the witnesses of one body text)."""
    if type(body) is str:
        if "\\u" not in body:
            return body
        # an escape (uploaded texts need none): a lone surrogate would not read back, so the schema is written again
        return _compact(json.loads(body))
    if body is None:
        return None
    text = texts.get(id(body))
    if text is None:
        text = texts[id(body)] = _compact(body)
    return text


def _stored(witness: dict[str, Any], texts: dict[int, str]) -> dict[str, Any]:
    """`witness` with each body's schema as JSON text (a copy, unless it came so)."""
    request, response = witness["request"], witness["response"]
    request_body, response_body = _body_text(request["body"], texts), _body_text(response["body"], texts)
    if request_body is request["body"] and response_body is response["body"]:
        return witness
    return {
        **witness,
        "request": {**request, "body": request_body},
        "response": {**response, "body": response_body},
    }


def witnesses_pack(witnesses: list[dict[str, Any]]) -> bytes:
    """The stored form of a list of witnesses: zlib-compressed JSON, each body's schema as JSON text, as a daemon
    uploads it (`apimodel.witness_form.witness_json`), so a checked upload is stored without writing its schemas
    again (`witnesses_unpack` reads it)."""
    texts: dict[int, str] = {}
    stored = [_stored(witness, texts) for witness in witnesses]
    try:
        data = orjson.dumps(stored)
    except TypeError:  # an integer past 64 bits (an absurd declared body size; it reads back as a float), or a
        # lone surrogate, which orjson could not read back: it becomes "?"
        data = json.dumps(stored, separators=(",", ":"), ensure_ascii=False).encode(errors="replace")
    # PostgreSQL text and jsonb refuse NUL, so a name carrying one would fail the model build (in a body's text, its
    # escape is escaped again: `\\\\u0000`, which this replaces too).
    # Level 3: a third bigger than the default's 6, and under half its time (the ingest path pays it per batch).
    return zlib.compress(data.replace(b"\\u0000", b"\\ufffd"), 3)


def witnesses_unpack(payload: bytes | memoryview) -> list[dict[str, Any]]:
    """The witnesses of a `WitnessBatch.payload` (a memoryview on PostgreSQL), as `witness_from_entry` makes them:
    each body's schema read from its text once per distinct text (`apimodel.witness_form.read_bodies`; witnesses
    share it). Batches stored before bodies were kept as text (2026-11-27) hold each body's schema as an object,
    which is read as it is: they need no migration."""
    witnesses: list[dict[str, Any]] = orjson.loads(zlib.decompress(payload))
    if type(witnesses) is list:
        for witness in witnesses:
            if type(witness) is dict:
                read_bodies(witness)
    return witnesses


class WitnessBatch(models.Model):
    """A batch of obfuscated witnesses as a daemon uploaded it; kept so models can be rebuilt."""

    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="witness_batches")
    batch_id = models.CharField(max_length=100)
    daemon_name = models.CharField(max_length=200, blank=True)
    # Compressed JSON rather than a JSONField: a fourteenth of the size, and builds decode it twice as fast.
    payload = models.BinaryField()
    witness_count = models.PositiveIntegerField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["trace", "batch_id"], name="witness_batch_unique")]

    @classmethod
    def of(cls, witnesses: list[dict[str, Any]], **fields: Any) -> "WitnessBatch":
        """An unsaved batch holding `witnesses`."""
        return cls(payload=witnesses_pack(witnesses), witness_count=len(witnesses), **fields)

    @property
    def witnesses(self) -> list[dict[str, Any]]:
        """The stored witnesses, decoded on each access."""
        return witnesses_unpack(self.payload)


class HarUpload(models.Model):
    """A HAR upload waiting for the worker that imports it (gzip): the database is all that web and worker
    processes share (separate machines, ephemeral disks). The import deletes it."""

    trace = models.OneToOneField(Trace, on_delete=models.CASCADE, related_name="har_upload")
    payload = models.BinaryField()
