"""HAR uploads, streamed: the request writes the file to a temporary file gzip-compressed as it arrives (a 50 MB
upload never sits in a web worker's memory), then stores that in the database (a few MB: web and worker processes
share nothing else), and a worker reads it back an entry at a time (ijson) into witness batches. Entries that
cannot be read are counted and reported on the trace; the rest build its model."""

import gzip
import io
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

import ijson  # type: ignore[import-untyped]
from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apimodel.har import is_http_exchange
from apimodel.witness import InvalidEntry, witness_from_entry
from projects.models import Project, User
from traces.builds import model_builds
from traces.models import HarUpload, Trace, WitnessBatch
from traces.names import trace_names_from_file
from traces.services import trace_create

HAR_BATCH_SIZE = 500
MAX_REPORTED_ERRORS = 20
GZIP_MAGIC = b"\x1f\x8b"


class HarUploadHandler(FileUploadHandler):
    """Writes each uploaded file to a temporary file as it arrives, gzip-compressed (a file sent already gzipped
    is kept as it is); a file over HAR_UPLOAD_MAX_BYTES is dropped and `too_large` set."""

    too_large = False

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        # In FILE_UPLOAD_TEMP_DIR, deleted when closed (at the latest when the request ends).
        self.file = TemporaryUploadedFile(self.file_name or "upload.har", "application/gzip", 0, None)
        self.out: IO[bytes] | gzip.GzipFile | None = None
        self.size = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.size += len(raw_data)
        if self.size > settings.HAR_UPLOAD_MAX_BYTES:
            self.too_large = True
            self.file.close()
            raise SkipFile
        if self.out is None:
            compressed = raw_data.startswith(GZIP_MAGIC)
            self.out = self.file if compressed else gzip.GzipFile(fileobj=self.file, mode="wb", compresslevel=1)
        self.out.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> TemporaryUploadedFile:
        if self.out is not None and self.out is not self.file:
            self.out.close()
        self.file.seek(0)
        self.file.size = file_size
        return self.file

    def upload_interrupted(self) -> None:
        self.file.close()


def har_upload(
    *, project: Project, user: User | None, stored: TemporaryUploadedFile, now: datetime | None = None
) -> Trace:
    """A HAR upload (as HarUploadHandler stored it) becomes a finished trace; its file moves to the database,
    where a worker imports its entries and queues its model build."""
    from traces.tasks import har_import  # the task module imports these services

    now = now or timezone.now()
    with stored, transaction.atomic():
        trace = trace_create(
            project=project,
            user=user,
            names=trace_names_from_file(stored.name or ""),
            started_at=now,
            ends_at=now,
            source=Trace.Source.HAR,
        )
        stored.seek(0)
        HarUpload.objects.create(trace=trace, payload=stored.read())
        transaction.on_commit(lambda: har_import.delay(trace.pk))
    return trace


def _entries(payload: bytes | memoryview) -> Iterator[tuple[int, Any]]:
    with gzip.GzipFile(fileobj=io.BytesIO(payload)) as stream:
        yield from enumerate(ijson.items(stream, "log.entries.item", use_float=True))


def _record(trace: Trace, witnesses: list[dict[str, Any]], batch: int) -> None:
    try:
        with transaction.atomic():
            WitnessBatch.of(witnesses, trace=trace, batch_id=f"har-{batch}").save()
            Trace.objects.filter(pk=trace.pk).update(witness_count=F("witness_count") + len(witnesses))
    except IntegrityError:
        pass  # stored by an earlier run of this import, whose worker died


def har_import(*, trace_id: int) -> None:
    """Read a trace's HAR upload an entry at a time into witness batches, skipping (and reporting on the trace)
    entries that are not HTTP exchanges or not valid, then queue the trace's model build. Memory holds the
    compressed file and one batch of witnesses; the upload is deleted after, also if the import fails, so a
    redelivered import finds nothing to do."""
    upload = HarUpload.objects.select_related("trace__project").filter(trace_id=trace_id).first()
    if upload is None:
        return
    try:
        _import(upload.trace, upload.payload)
    finally:
        upload.delete()


def _import(trace: Trace, payload: bytes | memoryview) -> None:
    errors: list[str] = []
    skipped = batch = 0
    witnesses: list[dict[str, Any]] = []
    try:
        for index, entry in _entries(payload):
            if not isinstance(entry, dict):
                errors.append(f"log.entries[{index}]: not a HAR entry object")
                skipped += 1
                continue
            if not is_http_exchange(entry):
                continue
            try:
                witnesses.append(witness_from_entry(entry))
            except InvalidEntry as error:
                errors.append(f"log.entries[{index}].{error.field}: {error}")
                skipped += 1
            if len(witnesses) == HAR_BATCH_SIZE:
                _record(trace, witnesses, batch)
                witnesses, batch = [], batch + 1
    except (ijson.JSONError, OSError, EOFError, UnicodeDecodeError) as error:
        errors.append(f"Not a JSON HAR file (or a gzip of one): {error}")
    if witnesses:
        _record(trace, witnesses, batch)
    trace.refresh_from_db()
    if not trace.witness_count:
        errors.append("The HAR file has no HTTP requests with responses.")
    with transaction.atomic():
        Trace.objects.filter(pk=trace.pk).update(
            import_errors=errors[:MAX_REPORTED_ERRORS], entries_skipped=skipped, final_build_queued_at=timezone.now()
        )
        if trace.witness_count:
            model_builds().queue_final_build(trace)
