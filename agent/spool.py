"""The on-disk spool: every batch is written here before it is uploaded, and deleted once the control plane took it.

So an outage of the control plane (or a restart of the agent) loses nothing until the spool reaches its size
limit, and batches are uploaded in the order they were written. One file per batch, `<sequence>.batch`: a line
of JSON metadata, then the gzip-compressed upload body.
"""

import fcntl
import json
import logging
import os
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from agent.logs import log_event

SUFFIX = ".batch"


class SpoolError(Exception):
    """The spool folder cannot be used; the message says why and what to do."""


class SpoolFull(Exception):
    """The batch does not fit under the spool's size limit."""


@dataclass(frozen=True)
class SpooledBatch:
    """A batch on disk, waiting for upload."""

    sequence: int
    path: Path
    project: str
    trace_id: str
    batch_id: str
    entries: int
    dropped: dict[str, int] = field(default_factory=dict)
    size: int = 0

    def body(self) -> bytes:
        """The gzip-compressed upload body."""
        with self.path.open("rb") as file:
            file.readline()
            return file.read()


class Spool:
    """Batches in one folder, oldest first, at most `max_bytes` of them; one agent per folder (a lock file says so)."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._queue: deque[SpooledBatch] = deque()
        self._bytes = 0
        self._next = 1
        self._lock_file: IO[bytes] | None = None

    def open(self) -> list[SpooledBatch]:
        """Take the folder (SpoolError if another agent has it) and return the batches a previous run left."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock_file = (self.directory / ".lock").open("wb")
        except OSError as error:
            raise SpoolError(f"cannot use the spool folder {self.directory}: {error}; pass --spool-dir") from error
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            self._lock_file.close()
            raise SpoolError(
                f"another agent uses the spool folder {self.directory}; give each agent its own --spool-dir"
            ) from error
        for leftover in self.directory.glob("*.tmp"):
            leftover.unlink()
        for path in sorted(self.directory.glob("*" + SUFFIX)):
            item = self._read(path)
            if item is not None:
                self._queue.append(item)
                self._bytes += item.size
                self._next = item.sequence + 1
        return list(self._queue)

    def close(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    @staticmethod
    def _read(path: Path) -> SpooledBatch | None:
        try:
            with path.open("rb") as file:
                meta = json.loads(file.readline())
            return SpooledBatch(
                sequence=int(path.name.removesuffix(SUFFIX)),
                path=path,
                project=str(meta["project"]),
                trace_id=str(meta["trace_id"]),
                batch_id=str(meta["batch_id"]),
                entries=int(meta["entries"]),
                dropped={str(k): int(v) for k, v in meta.get("dropped", {}).items()},
                size=path.stat().st_size,
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            log_event(logging.ERROR, "spool_file_unreadable", path=path, error=error)
            path.unlink(missing_ok=True)
            return None

    @property
    def size(self) -> int:
        """Bytes on disk."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._queue)

    def append(
        self, *, project: str, trace_id: str, batch_id: str, entries: int, dropped: dict[str, int], body: bytes
    ) -> SpooledBatch:
        """Write a batch after the others; SpoolFull if it would take the spool past `max_bytes`."""
        meta = json.dumps(
            {"project": project, "trace_id": trace_id, "batch_id": batch_id, "entries": entries, "dropped": dropped}
        ).encode()
        size = len(meta) + 1 + len(body)
        with self._lock:
            if self._bytes + size > self.max_bytes:
                raise SpoolFull(f"the spool holds {self._bytes} of {self.max_bytes} bytes")
            sequence = self._next
            self._next += 1
            path = self.directory / f"{sequence:012d}{SUFFIX}"
            temporary = path.with_suffix(".tmp")
            temporary.write_bytes(meta + b"\n" + body)
            os.replace(temporary, path)  # a crash never leaves a half-written batch under its real name
            item = SpooledBatch(sequence, path, project, trace_id, batch_id, entries, dropped, size)
            self._queue.append(item)
            self._bytes += size
            return item

    def oldest(self) -> SpooledBatch | None:
        with self._lock:
            return self._queue[0] if self._queue else None

    def remove(self, item: SpooledBatch) -> None:
        """Forget a batch the control plane took (or refused for good)."""
        with self._lock:
            self._queue.remove(item)
            self._bytes -= item.size
        item.path.unlink(missing_ok=True)
