"""The memos behind `witness_from_entry` (bodies, headers, URLs) share nothing a caller may change, and stay bounded
(that they change no witness: test_witness_property)."""

from apimodel.witness import _Memo, witness_from_entry


def test_changing_a_witness_changes_no_other(make_entry) -> None:
    entry = make_entry(
        "GET", "https://api.example.com/v1/items?limit=5", headers={"X-Tenant": "7"}, response_headers={"X-Id": "9"}
    )
    first = witness_from_entry(entry)
    first["query"]["limit"] = {"type": "string"}
    first["request"]["headers"].clear()
    first["response"]["headers"].clear()
    second = witness_from_entry(entry)
    assert second["query"] == {"limit": {"type": "integer"}}
    assert second["request"]["headers"] == {"x-tenant": {"type": "integer"}}
    assert second["response"]["headers"] == {"x-id": {"type": "integer"}}


def test_it_keeps_at_most_its_bytes_the_newest_used_last() -> None:
    computed: list[str] = []

    def compute(key: str) -> str:
        computed.append(key)
        return key.upper()

    memo = _Memo(compute, len, 128)  # room for 16 keys of 8 characters, each at most a sixteenth
    keys = [f"key-{n:04}" for n in range(100)]
    for key in keys:
        assert memo.get(key) == key.upper()
        memo.get(keys[0])  # used all along: never the oldest
    assert memo._bytes == 128
    assert len(memo._values) == 16
    assert keys[0] in memo._values and keys[-1] in memo._values and keys[1] not in memo._values
    assert computed.count(keys[0]) == 1


def test_it_keeps_no_key_past_a_sixteenth_of_its_bytes() -> None:
    memo = _Memo(str.upper, len, 160)
    assert memo.get("x" * 11) == "X" * 11
    assert memo._values == {} and memo._bytes == 0
