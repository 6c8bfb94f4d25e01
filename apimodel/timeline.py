"""An endpoint's traffic over time: requests, 5xx errors and p99 latency per time bucket, in bounded memory.

Buckets are aligned to the Unix epoch and `width` seconds wide, a power of two. The width is the smallest one
at which every request seen fits in `MAX_BUCKETS` consecutive buckets, so it grows (neighbouring buckets
fold together) as traffic spans more time. It depends only on the requests seen, never on their order or on
how timelines were merged, and neither do the buckets. Each bucket keeps its latencies in a histogram of
log-spaced bins (`RATIO` apart), enough for a p99 within ~11 %.
"""

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, TypedDict

MAX_BUCKETS = 24
RATIO = 1.25
_LOG_RATIO = math.log(RATIO)
_MIN_MS = 0.01  # at or below: the lowest bin


class TimelineBucket(TypedDict):
    """One bucket of the model JSON: its start (ISO 8601, UTC), requests, 5xx responses and p99 in ms."""

    start: str
    count: int
    errors: int
    p99_ms: float | None


class TimelineModel(TypedDict):
    """An endpoint's timeline in the model JSON: non-empty buckets only, oldest first."""

    bucket_seconds: int
    buckets: list[TimelineBucket]


@dataclass
class Bucket:
    """Requests, 5xx responses and latency histogram (bin → requests) of one time bucket."""

    count: int = 0
    errors: int = 0
    latency: dict[int, int] = field(default_factory=dict)

    def absorb(self, other: "Bucket") -> None:
        self.count += other.count
        self.errors += other.errors
        for index, n in other.latency.items():
            self.latency[index] = self.latency.get(index, 0) + n

    def p99(self) -> float | None:
        """The nearest-rank p99 of the timed requests, as the upper end of its bin."""
        timed = sum(self.latency.values())
        if not timed:
            return None
        rank, seen = math.ceil(0.99 * timed), 0
        for index in sorted(self.latency):
            seen += self.latency[index]
            if seen >= rank:
                break
        return round(_MIN_MS * RATIO**index, 2)


@dataclass
class Timeline:
    """Buckets by index (start = index * width seconds since the epoch)."""

    width: int = 1
    buckets: dict[int, Bucket] = field(default_factory=dict)

    def add(self, moment: dt.datetime, error: bool, time_ms: float | None) -> None:
        """Count one request that started at `moment` (aware), a 5xx when `error`, taking `time_ms`."""
        index = int(moment.timestamp()) // self.width
        bucket = self.buckets.get(index)
        if bucket is None:
            bucket = self.buckets[index] = Bucket()
        bucket.count += 1
        bucket.errors += error
        if time_ms is not None:
            latency = bucket.latency
            key = 0 if time_ms <= _MIN_MS else math.ceil(math.log(time_ms / _MIN_MS) / _LOG_RATIO)
            latency[key] = latency.get(key, 0) + 1
        if len(self.buckets) > 1 and bucket.count == 1:
            self._fit()

    def merge(self, other: "Timeline") -> None:
        """Fold `other` in; `other` is left as it was."""
        while self.width < other.width:
            self._widen()
        factor = self.width // other.width
        for index, theirs in other.buckets.items():
            self.buckets.setdefault(index // factor, Bucket()).absorb(theirs)
        self._fit()

    def _fit(self) -> None:
        while self.buckets and max(self.buckets) - min(self.buckets) >= MAX_BUCKETS:
            self._widen()

    def _widen(self) -> None:
        self.width *= 2
        folded: dict[int, Bucket] = {}
        for index, bucket in sorted(self.buckets.items()):
            folded.setdefault(index // 2, Bucket()).absorb(bucket)
        self.buckets = folded

    def to_model(self) -> TimelineModel:
        """The timeline as model JSON."""
        return {
            "bucket_seconds": self.width,
            "buckets": [
                {
                    "start": dt.datetime.fromtimestamp(index * self.width, dt.UTC).isoformat().replace("+00:00", "Z"),
                    "count": bucket.count,
                    "errors": bucket.errors,
                    "p99_ms": bucket.p99(),
                }
                for index, bucket in sorted(self.buckets.items())
            ],
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (state.py); `from_dict` reads it back."""
        return {
            "width": self.width,
            "buckets": [
                [index, bucket.count, bucket.errors, sorted(bucket.latency.items())]
                for index, bucket in sorted(self.buckets.items())
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Timeline":
        buckets = {
            int(index): Bucket(int(count), int(errors), {int(key): int(n) for key, n in latency})
            for index, count, errors, latency in data["buckets"]
        }
        return cls(width=int(data["width"]), buckets=buckets)
