"""A mergeable quantile sketch for latencies (DDSketch: log-spaced buckets).

Every quantile it answers is within `relative_accuracy` of a value that was added, and its
size depends on the range of values, not on how many were added.
"""

import math
from typing import Any

_MIN_VALUE = 1e-3  # ms; anything at or below counts as zero
_MAX_BUCKETS = 2048


class LatencySketch:
    """DDSketch-style quantile sketch over non-negative milliseconds."""

    def __init__(self, relative_accuracy: float = 0.01) -> None:
        self.relative_accuracy = relative_accuracy
        self._gamma = (1 + relative_accuracy) / (1 - relative_accuracy)
        self._log_gamma = math.log(self._gamma)
        self.count = 0
        self.zero_count = 0
        self.buckets: dict[int, int] = {}

    def add(self, ms: float, count: int = 1) -> None:
        """Record `count` observations of `ms` milliseconds (negative values count as zero)."""
        self.count += count
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
        """Fold `other` into this sketch (both must share the same accuracy)."""
        if other.relative_accuracy != self.relative_accuracy:
            raise ValueError("cannot merge sketches of different accuracy")
        self.count += other.count
        self.zero_count += other.zero_count
        for index, count in other.buckets.items():
            self.buckets[index] = self.buckets.get(index, 0) + count
        while len(self.buckets) > _MAX_BUCKETS:
            self._collapse_lowest()

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0 ≤ q ≤ 1) in milliseconds, or None when nothing was added."""
        if self.count == 0:
            return None
        rank = q * (self.count - 1)
        seen = self.zero_count
        if rank < seen:
            return 0.0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if rank < seen:
                return 2 * self._gamma**index / (self._gamma + 1)
        return 2 * self._gamma ** max(self.buckets) / (self._gamma + 1)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form; `from_dict` reads it back."""
        return {
            "relative_accuracy": self.relative_accuracy,
            "count": self.count,
            "zero_count": self.zero_count,
            "buckets": {str(index): n for index, n in sorted(self.buckets.items())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LatencySketch":
        """Rebuild a sketch from `to_dict` output."""
        sketch = cls(float(data["relative_accuracy"]))
        sketch.count = int(data["count"])
        sketch.zero_count = int(data["zero_count"])
        sketch.buckets = {int(index): int(n) for index, n in data["buckets"].items()}
        return sketch
