import json
import random

from apimodel.latency import LatencySketch


def test_it_answers_quantiles_within_one_percent() -> None:
    values = [random.Random(1).lognormvariate(4, 1) for _ in range(10_000)]
    sketch = LatencySketch()
    for value in values:
        sketch.add(value)
    ordered = sorted(values)
    for q in (0.5, 0.9, 0.99):
        exact = ordered[int(q * (len(values) - 1))]
        estimate = sketch.quantile(q)
        assert estimate is not None
        assert abs(estimate - exact) <= 0.011 * exact


def test_it_merges_like_one_sketch() -> None:
    one, left, right = LatencySketch(), LatencySketch(), LatencySketch()
    for i, value in enumerate([0.0, 1, 2, 3, 50, 70, 900]):
        one.add(value)
        (left if i % 2 else right).add(value)
    left.merge(right)
    assert left.to_dict() == one.to_dict()


def test_it_round_trips_through_json() -> None:
    sketch = LatencySketch()
    for value in (0.5, 12, 12.2, 300):
        sketch.add(value)
    again = LatencySketch.from_dict(json.loads(json.dumps(sketch.to_dict())))
    assert again.quantile(0.5) == sketch.quantile(0.5) and again.count == 4


def test_it_has_no_quantile_when_empty() -> None:
    assert LatencySketch().quantile(0.5) is None


def test_it_stays_small() -> None:
    sketch = LatencySketch()
    for i in range(100_000):
        sketch.add(1 + i % 500)
    assert len(sketch.to_dict()["buckets"]) < 400
