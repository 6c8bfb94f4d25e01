"""Latency percentiles: exact for few requests, a mergeable DDSketch for many.

Percentiles follow the nearest-rank definition: the q-quantile of n values is the ⌈q·n⌉-th
smallest (the smallest for q = 0), so p99 of 38, 39, 39 and 123 ms is 123 ms. Up to
`EXACT_LIMIT` values are kept as they are and answered exactly. Past that, every value goes
into a DDSketch (log-spaced buckets): its answer is within `relative_accuracy` of the exact
nearest-rank value, and its size depends on the range of values, not on how many were added.
The state depends only on the values added, not on their order or on how sketches were merged.
"""

import math
from array import array
from typing import Any

EXACT_LIMIT = 128
_MIN_VALUE = 1e-3  # ms; anything at or below counts as zero in the sketch
_MAX_BUCKETS = 2048
# q·n of an exact rank may come out a hair above it in floating point (0.7 * 10 = 7.000000000000001)
_RANK_SLACK = 1e-9


class LatencySketch:
    """Quantiles of non-negative milliseconds: exact values up to `EXACT_LIMIT`, a DDSketch beyond."""

    def __init__(self, relative_accuracy: float = 0.01) -> None:
        self.relative_accuracy = relative_accuracy
        self._gamma = (1 + relative_accuracy) / (1 - relative_accuracy)
        self._log_gamma = math.log(self._gamma)
        self.count = 0
        # the values themselves while there are at most EXACT_LIMIT of them, None once the sketch holds them
        self.exact: array[float] | None = array("d")
        self.zero_count = 0
        self.buckets: dict[int, int] = {}

    def add(self, ms: float) -> None:
        """Record one observation of `ms` milliseconds."""
        self.count += 1
        if self.exact is not None:
            if self.count <= EXACT_LIMIT:
                self.exact.append(ms)
                return
            self._spill()
        self._bucket(ms, 1)

    def _spill(self) -> None:
        """Move the exact values into the sketch."""
        for value in self.exact or ():
            self._bucket(value, 1)
        self.exact = None

    def _bucket(self, ms: float, count: int) -> None:
        if ms <= _MIN_VALUE:
            self.zero_count += count
            return
        index = math.ceil(math.log(ms) / self._log_gamma)
        self.buckets[index] = self.buckets.get(index, 0) + count
        if len(self.buckets) > _MAX_BUCKETS:
            self._collapse_lowest()

    def _collapse_lowest(self) -> None:
        # keep the high quantiles exact: fold the two lowest buckets together
        low, second = sorted(self.buckets)[:2]
        self.buckets[second] += self.buckets.pop(low)

    def merge(self, other: "LatencySketch") -> None:
        """Fold `other` into this sketch (both must share the same accuracy); `other` is left as it was."""
        if other.relative_accuracy != self.relative_accuracy:
            raise ValueError("cannot merge sketches of different accuracy")
        self.count += other.count
        if self.exact is not None:
            if other.exact is not None and self.count <= EXACT_LIMIT:
                self.exact.extend(other.exact)
                return
            self._spill()
        if other.exact is not None:
            for value in other.exact:
                self._bucket(value, 1)
            return
        self.zero_count += other.zero_count
        for index, count in other.buckets.items():
            self.buckets[index] = self.buckets.get(index, 0) + count
        while len(self.buckets) > _MAX_BUCKETS:
            self._collapse_lowest()

    def quantile(self, q: float) -> float | None:
        """The nearest-rank q-quantile (0 ≤ q ≤ 1) in milliseconds, or None when nothing was added."""
        if self.count == 0:
            return None
        rank = min(self.count, max(1, math.ceil(q * self.count - _RANK_SLACK)))
        if self.exact is not None:
            return sorted(self.exact)[rank - 1]
        seen = self.zero_count
        if rank <= seen:
            return 0.0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if rank <= seen:
                break
        # the point of bucket (gamma^(index-1), gamma^index] within relative_accuracy of both ends
        return 2 * self._gamma**index / (self._gamma + 1)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (the same for the same values in any order); `from_dict` reads it back."""
        return {
            "relative_accuracy": self.relative_accuracy,
            "count": self.count,
            "exact": None if self.exact is None else sorted(self.exact),
            "zero_count": self.zero_count,
            "buckets": [[index, n] for index, n in sorted(self.buckets.items())],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LatencySketch":
        """Rebuild a sketch from `to_dict` output."""
        sketch = cls(float(data["relative_accuracy"]))
        sketch.count = int(data["count"])
        exact = data["exact"]
        sketch.exact = None if exact is None else array("d", (float(value) for value in exact))
        sketch.zero_count = int(data["zero_count"])
        sketch.buckets = {int(index): int(n) for index, n in data["buckets"]}
        return sketch
