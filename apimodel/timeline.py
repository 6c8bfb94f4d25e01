"""An endpoint's traffic over time: requests, 5xx errors and p99 latency per time bucket, in bounded memory.

Buckets are aligned to the Unix epoch and `width` seconds wide, a power of two. The width is the smallest one
at which every request seen fits in `MAX_BUCKETS` consecutive buckets, so it grows (neighbouring buckets
fold together) as traffic spans more time. It depends only on the requests seen, never on their order or on
how timelines were merged, and neither do the buckets. Each bucket keeps its latencies in a histogram of
log-spaced bins (`RATIO` apart), enough for a p99 within ~11 %.
"""

import datetime as dt
import itertools
import math
from dataclasses import dataclass, field
from typing import Any, TypedDict

MAX_BUCKETS = 24
RATIO = 1.25
_LOG_RATIO = math.log(RATIO)
_MIN_MS = 0.01  # at or below: the lowest bin
_EPOCH_DAY = dt.date(1970, 1, 1).toordinal()
UNTIMED = -1  # the histogram bin of requests without a timing (timed ones fall in bins 0 and up)


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


def _p99(histogram: dict[int, int]) -> float | None:
    """The nearest-rank p99 of the timed requests of a histogram (bin → requests), as the upper end of its bin."""
    timed = sorted((index, n) for index, n in histogram.items() if index != UNTIMED)
    if not timed:
        return None
    rank = math.ceil(0.99 * sum(n for _, n in timed))
    totals = itertools.accumulate(n for _, n in timed)
    index = next(index for (index, _), total in zip(timed, totals, strict=True) if total >= rank)
    return round(_MIN_MS * RATIO**index, 2)


def _fold(values: dict[int, int], into: dict[int, int], factor: int) -> None:
    for index, n in values.items():
        into[index // factor] = into.get(index // factor, 0) + n


@dataclass
class Timeline:
    """Per bucket index (the bucket starts index * width seconds after the epoch): a histogram of its requests'
    latency bins (bin UNTIMED for requests without a timing), and its 5xx count. Plain dicts of ints: cheap to
    add to, copy and merge."""

    width: int = 1
    buckets: dict[int, dict[int, int]] = field(default_factory=dict)
    errors: dict[int, int] = field(default_factory=dict)

    def add(self, moment: dt.datetime, error: bool, time_ms: float | None) -> None:
        """Count one request that started at `moment` (in UTC), a 5xx when `error`, taking `time_ms`."""
        # seconds since the epoch, cheaper than moment.timestamp()
        seconds = (moment.toordinal() - _EPOCH_DAY) * 86400 + moment.hour * 3600 + moment.minute * 60 + moment.second
        index = seconds // self.width
        histogram = self.buckets.get(index)
        if histogram is None:
            histogram = self.buckets[index] = {}
        if time_ms is None:
            key = UNTIMED
        else:
            key = 0 if time_ms <= _MIN_MS else math.ceil(math.log(time_ms / _MIN_MS) / _LOG_RATIO)
        histogram[key] = histogram.get(key, 0) + 1
        if error:
            self.errors[index] = self.errors.get(index, 0) + 1
        if len(histogram) == 1 and len(self.buckets) > 1:
            self._fit()

    def merge(self, other: "Timeline") -> None:
        """Fold `other` in; `other` is left as it was."""
        while self.width < other.width:
            self._widen()
        factor = self.width // other.width
        for index, histogram in other.buckets.items():
            _fold(histogram, self.buckets.setdefault(index // factor, {}), 1)
        _fold(other.errors, self.errors, factor)
        self._fit()

    def _fit(self) -> None:
        while self.buckets and max(self.buckets) - min(self.buckets) >= MAX_BUCKETS:
            self._widen()

    def _widen(self) -> None:
        self.width *= 2
        buckets: dict[int, dict[int, int]] = {}
        errors: dict[int, int] = {}
        for index, histogram in self.buckets.items():
            _fold(histogram, buckets.setdefault(index // 2, {}), 1)
        _fold(self.errors, errors, 2)
        self.buckets, self.errors = buckets, errors

    def to_model(self) -> TimelineModel:
        """The timeline as model JSON."""
        return {
            "bucket_seconds": self.width,
            "buckets": [
                {
                    "start": dt.datetime.fromtimestamp(index * self.width, dt.UTC).isoformat().replace("+00:00", "Z"),
                    "count": sum(histogram.values()),
                    "errors": self.errors.get(index, 0),
                    "p99_ms": _p99(histogram),
                }
                for index, histogram in sorted(self.buckets.items())
            ],
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (state.py); `from_dict` reads it back."""
        return {
            "width": self.width,
            "buckets": [
                [index, self.errors.get(index, 0), sorted(histogram.items())]
                for index, histogram in sorted(self.buckets.items())
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Timeline":
        timeline = cls(width=int(data["width"]))
        for index, errors, histogram in data["buckets"]:
            timeline.buckets[int(index)] = {int(key): int(n) for key, n in histogram}
            if errors:
                timeline.errors[int(index)] = int(errors)
        return timeline
