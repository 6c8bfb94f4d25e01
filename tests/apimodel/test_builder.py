import json
import random
from pathlib import Path

from apimodel import ModelBuilder, witness_from_entry

SMALL_HAR = Path(__file__).resolve().parent.parent / "fixtures" / "small.har"


def test_it_finds_the_endpoints_of_the_small_har(model_of) -> None:
    entries = json.loads(SMALL_HAR.read_text())["log"]["entries"]
    model = model_of(entries)
    expected = json.loads(SMALL_HAR.with_suffix(".endpoints.json").read_text())
    assert [[e["method"], e["path"]] for e in model["endpoints"]] == expected
    assert model["witness_count"] == len(entries)
    assert sum(e["count"] for e in model["endpoints"]) == len(entries)


def test_it_gives_the_same_model_in_any_order() -> None:
    entries = json.loads(SMALL_HAR.read_text())["log"]["entries"]
    witnesses = [witness_from_entry(e) for e in entries]
    models = set()
    for seed in range(5):
        random.Random(seed).shuffle(witnesses)
        builder = ModelBuilder()
        for witness in witnesses:
            builder.add(witness)
        models.add(json.dumps(builder.result(), sort_keys=True))
    assert len(models) == 1


def test_it_marks_query_parameters_required_only_when_always_sent(make_entry, endpoint_of) -> None:
    endpoint = endpoint_of(
        [make_entry(url="https://a.example/s?q=x&page=2"), make_entry(url="https://a.example/s?q=y")]
    )
    params = {(p["name"], p["in"]): p["required"] for p in endpoint["parameters"]}
    assert params == {("q", "query"): True, ("page", "query"): False}


def test_it_records_non_standard_headers_and_cookies_but_not_credentials(make_entry, endpoint_of) -> None:
    endpoint = endpoint_of(
        [make_entry(headers={"X-Trace": "7", "Accept": "*/*", "X-Api-Key": "k", "Cookie": "lang=en; session=s"})]
    )
    assert [(p["name"], p["in"]) for p in endpoint["parameters"]] == [("x-trace", "header"), ("lang", "cookie")]


def test_it_counts_responses_per_status_with_their_schemas(make_entry, endpoint_of) -> None:
    endpoint = endpoint_of(
        [
            make_entry(url="https://a.example/p/1", response_json={"id": 1}),
            make_entry(url="https://a.example/p/2", response_json={"id": 2, "name": "x"}),
            make_entry(url="https://a.example/p/3", status=404, response_json={"error": "gone"}),
        ]
    )
    assert {status: r["count"] for status, r in endpoint["responses"].items()} == {"200": 2, "404": 1}
    assert endpoint["responses"]["200"]["content"]["application/json"]["required"] == ["id"]


def test_it_melds_request_bodies(make_entry, endpoint_of) -> None:
    endpoint = endpoint_of(
        [
            make_entry("POST", "https://a.example/p", request_json={"name": "a", "price": 1}),
            make_entry("POST", "https://a.example/p", request_json={"name": "b", "price": 2.5}),
        ]
    )
    body = endpoint["request_body"]["application/json"]
    assert body["properties"]["price"] == {"type": "number"}
    assert endpoint["responses"]["200"]["content"] == {}


def test_it_lists_auth_schemes_seen(make_entry, endpoint_of) -> None:
    endpoint = endpoint_of([make_entry(headers={"Authorization": "Bearer abc"}), make_entry()])
    assert endpoint["auth"] == ["bearer", "none"]


def test_it_describes_security_schemes(make_entry, model_of) -> None:
    model = model_of(
        [
            make_entry(headers={"X-Api-Key": "k"}),
            make_entry(url="https://a.example/b", headers={"Authorization": "Basic YTpi"}),
        ]
    )
    assert model["security_schemes"] == {
        "apikey_header:x-api-key": {"type": "apiKey", "in": "header", "name": "x-api-key"},
        "basic": {"type": "http", "scheme": "basic"},
    }


def test_it_reports_nearest_rank_latency_percentiles(make_entry, endpoint_of) -> None:
    assert endpoint_of([make_entry(time=float(ms)) for ms in range(1, 101)])["latency_ms"] == {
        "p50": 50,
        "p90": 90,
        "p99": 99,
    }
    assert endpoint_of([make_entry(time=ms) for ms in (38, 39, 39, 123)])["latency_ms"] == {
        "p50": 39,
        "p90": 123,
        "p99": 123,
    }


def test_it_tracks_first_and_last_seen_across_time_zones(make_entry, endpoint_of) -> None:
    endpoint = endpoint_of(
        [
            make_entry(started="2024-01-01T10:00:00+02:00"),
            make_entry(started="2024-01-01T09:00:00Z"),
            make_entry(started="2024-01-01T08:30:00Z"),
        ]
    )
    assert (endpoint["first_seen"], endpoint["last_seen"]) == ("2024-01-01T08:00:00Z", "2024-01-01T09:00:00Z")


def test_it_keeps_hosts_apart(make_entry, model_of) -> None:
    model = model_of([make_entry(url="https://a.example/x"), make_entry(url="http://b.example:8080/x")])
    assert [(e["host"], e["path"]) for e in model["endpoints"]] == [("a.example", "/x"), ("b.example:8080", "/x")]
    assert model["servers"] == ["http://b.example:8080", "https://a.example"]


def test_it_can_give_results_while_witnesses_keep_coming(make_entry) -> None:
    builder = ModelBuilder()
    builder.add(witness_from_entry(make_entry(url="https://a.example/u/1")))
    assert builder.result()["endpoints"][0]["count"] == 1
    builder.add(witness_from_entry(make_entry(url="https://a.example/u/2")))
    assert builder.result()["endpoints"][0]["count"] == 2


def test_it_builds_witnesses_stored_before_they_had_path_echoes(make_entry) -> None:
    entry = make_entry(url="https://a.example/licenses/mit", response_json={"key": "mit"})
    old = {k: v for k, v in witness_from_entry(entry).items() if k != "path_echoes"}
    builder = ModelBuilder()
    builder.add(old)
    assert [e["path"] for e in builder.result()["endpoints"]] == ["/licenses/mit"]
