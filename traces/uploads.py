"""HAR uploads, streamed: the request writes the file to disk gzip-compressed as it arrives (a 50 MB upload
never sits in a web worker's memory), and a worker reads it back an entry at a time (ijson) into witness
batches. Entries that cannot be read are counted and reported on the trace; the rest build its model."""

import gzip
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import ijson  # type: ignore[import-untyped]
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apimodel.har import is_http_exchange
from apimodel.witness import InvalidEntry, witness_from_entry
from projects.models import Project, User
from traces.builds import model_builds
from traces.models import Trace, WitnessBatch
from traces.names import trace_names_from_file
from traces.services import trace_create

HAR_BATCH_SIZE = 500
MAX_REPORTED_ERRORS = 20
GZIP_MAGIC = b"\x1f\x8b"


class StoredHar(UploadedFile):  # type: ignore[type-arg]
    """An uploaded HAR file, stored gzip-compressed at `path` for the worker that imports it."""

    def __init__(self, path: Path, name: str, size: int) -> None:
        super().__init__(file=None, name=name, size=size)
        self.path = path


class HarUploadHandler(FileUploadHandler):
    """Writes each uploaded file to the upload folder as it arrives, gzip-compressed (a file sent already
    gzipped is kept as it is); a file over HAR_UPLOAD_MAX_BYTES is dropped and `too_large` set."""

    too_large = False

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        folder = Path(settings.HAR_UPLOAD_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{uuid.uuid4().hex}.har.gz"
        self.raw: IO[bytes] = self.path.open("wb")
        self.out: IO[bytes] | gzip.GzipFile | None = None
        self.size = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.size += len(raw_data)
        if self.size > settings.HAR_UPLOAD_MAX_BYTES:
            self.too_large = True
            self._discard()
            raise SkipFile
        if self.out is None:
            compressed = raw_data.startswith(GZIP_MAGIC)
            self.out = self.raw if compressed else gzip.GzipFile(fileobj=self.raw, mode="wb", compresslevel=1)
        self.out.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> StoredHar:
        if self.out is not None and self.out is not self.raw:
            self.out.close()
        self.raw.close()
        return StoredHar(self.path, self.file_name or "upload.har", file_size)

    def upload_interrupted(self) -> None:
        self._discard()

    def _discard(self) -> None:
        self.raw.close()
        self.path.unlink(missing_ok=True)


def har_upload(*, project: Project, user: User | None, stored: StoredHar, now: datetime | None = None) -> Trace:
    """A stored HAR upload becomes a finished trace; a worker imports its entries and queues its model build."""
    from traces.tasks import har_import  # the task module imports these services

    now = now or timezone.now()
    with transaction.atomic():
        trace = trace_create(
            project=project,
            user=user,
            names=trace_names_from_file(stored.name or ""),
            started_at=now,
            ends_at=now,
            source=Trace.Source.HAR,
        )
        path = str(stored.path)
        transaction.on_commit(lambda: har_import.delay(trace.pk, path))
    return trace


def _entries(path: Path) -> Iterator[tuple[int, Any]]:
    with gzip.open(path, "rb") as stream:
        yield from enumerate(ijson.items(stream, "log.entries.item", use_float=True))


def _record(trace: Trace, witnesses: list[dict[str, Any]], batch: int) -> None:
    try:
        with transaction.atomic():
            WitnessBatch.of(witnesses, trace=trace, batch_id=f"har-{batch}").save()
            Trace.objects.filter(pk=trace.pk).update(witness_count=F("witness_count") + len(witnesses))
    except IntegrityError:
        pass  # stored by an earlier run of this import, whose worker died


def har_import(*, trace_id: int, path: Path) -> None:
    """Read a stored HAR upload an entry at a time into witness batches, skipping (and reporting on the trace)
    entries that are not HTTP exchanges or not valid, then queue the trace's model build. Memory holds one
    batch of witnesses; the file is deleted after."""
    trace = Trace.objects.select_related("project").get(pk=trace_id)
    errors: list[str] = []
    skipped = batch = 0
    witnesses: list[dict[str, Any]] = []
    try:
        for index, entry in _entries(path):
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
    finally:
        path.unlink(missing_ok=True)
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
