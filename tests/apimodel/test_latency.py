import json
import math
import random

from hypothesis import given
from hypothesis import strategies as st

from apimodel.latency import EXACT_LIMIT, LatencySketch


def sketch_of(values: list[float]) -> LatencySketch:
    sketch = LatencySketch()
    for value in values:
        sketch.add(value)
    return sketch


def nearest_rank(values: list[float], q: float) -> float:
    return sorted(values)[max(1, math.ceil(q * len(values))) - 1]


def test_the_slowest_of_four_requests_is_their_p99() -> None:
    sketch = sketch_of([39, 123, 38, 39])
    assert (sketch.quantile(0.5), sketch.quantile(0.9), sketch.quantile(0.99)) == (39, 123, 123)


def test_it_uses_nearest_ranks() -> None:
    sketch = sketch_of([float(ms) for ms in range(10, 0, -1)])
    assert [sketch.quantile(q) for q in (0, 0.1, 0.5, 0.7, 0.9, 0.91, 1)] == [1, 1, 5, 7, 9, 10, 10]


def test_it_is_exact_up_to_the_limit_and_sketched_past_it() -> None:
    values = [float(ms) for ms in range(1, EXACT_LIMIT + 1)]
    exact = sketch_of(values)
    assert exact.exact is not None and exact.quantile(0.99) == nearest_rank(values, 0.99)
    values.append(EXACT_LIMIT + 1.0)
    sketched = sketch_of(values)
    assert sketched.exact is None and sketched.count == EXACT_LIMIT + 1
    expected, estimate = nearest_rank(values, 0.99), sketched.quantile(0.99)
    assert estimate is not None and estimate != expected and abs(estimate - expected) <= 0.01 * expected


def test_its_sketch_answers_within_one_percent() -> None:
    rng = random.Random(1)
    values = [rng.lognormvariate(4, 1) for _ in range(10_000)]
    sketch = sketch_of(values)
    for q in (0.5, 0.9, 0.99, 1):
        exact, estimate = nearest_rank(values, q), sketch.quantile(q)
        assert estimate is not None and abs(estimate - exact) <= 0.01 * exact


def test_it_counts_zeros_in_the_sketch() -> None:
    sketch = sketch_of([0.0] * 200 + [5.0] * 10)
    assert sketch.exact is None and sketch.quantile(0.9) == 0 and sketch.quantile(0.99) == sketch.quantile(1)


@given(
    st.lists(st.floats(min_value=0, max_value=1e6), max_size=3 * EXACT_LIMIT),
    st.lists(st.integers(min_value=0, max_value=3), max_size=3 * EXACT_LIMIT),
    st.randoms(use_true_random=False),
)
def test_merged_parts_in_any_order_equal_one_sketch(values: list[float], parts: list[int], rnd: random.Random) -> None:
    one = sketch_of(values)
    pieces = [LatencySketch() for _ in range(4)]
    shuffled = rnd.sample(values, len(values))
    for i, value in enumerate(shuffled):
        pieces[parts[i] if i < len(parts) else 0].add(value)
    rnd.shuffle(pieces)
    merged = pieces[0]
    for piece in pieces[1:]:
        merged.merge(piece)
    assert merged.to_dict() == one.to_dict()
    assert [merged.quantile(q) for q in (0.5, 0.9, 0.99)] == [one.quantile(q) for q in (0.5, 0.9, 0.99)]


def test_merging_leaves_the_other_sketch_as_it_was() -> None:
    big, small = sketch_of([float(i) for i in range(EXACT_LIMIT)]), sketch_of([1.0, 2.0])
    before = small.to_dict()
    big.merge(small)
    assert small.to_dict() == before and big.exact is None


def test_it_round_trips_through_json() -> None:
    for values in ([0.5, 12, 12.2, 300], [float(i) for i in range(1000)]):
        sketch = sketch_of(values)
        again = LatencySketch.from_dict(json.loads(json.dumps(sketch.to_dict())))
        assert again.to_dict() == sketch.to_dict() and again.quantile(0.99) == sketch.quantile(0.99)


def test_it_has_no_quantile_when_empty() -> None:
    assert LatencySketch().quantile(0.5) is None


def test_it_stays_small() -> None:
    sketch = sketch_of([1.0 + i % 500 for i in range(100_000)])
    assert len(sketch.to_dict()["buckets"]) < 400
