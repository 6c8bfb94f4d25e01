"""Random APIs: their concrete traffic must give back exactly their path templates."""

import random
import re
import string
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from apimodel import ModelBuilder, witness_from_entry
from apimodel.formats import id_kind

WORDS = [
    "users", "orders", "items", "repos", "files", "projects", "teams", "invoices", "comments", "tags",
    "settings", "search", "archive", "members", "events", "reports", "stats", "billing", "profile", "me",
]  # fmt: skip
KINDS = ["integer", "uuid", "hex", "token", "prefixed", "date", "email"]
FILE_KINDS = ["integer", "uuid", "hex", "token"]
PREFIXES = [[], ["v1"], ["api", "v2"]]

Segment = tuple[str, str]  # ("static", word) or ("param", suffix)


def id_value(kind: str, rnd: random.Random) -> str:
    """A random id of a kind, as real APIs mint them."""
    alphabet = string.ascii_letters + string.digits
    if kind == "integer":
        return str(rnd.randint(1, 10**7))
    if kind == "uuid":
        return str(uuid.UUID(int=rnd.getrandbits(128), version=4))
    if kind == "date":
        return f"20{rnd.randint(10, 29)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
    if kind == "email":
        return f"{rnd.choice(WORDS)}{rnd.randint(1, 99)}@example.com"
    while True:
        if kind == "hex":
            value = "".join(rnd.choice("0123456789abcdef") for _ in range(24))
        elif kind == "token":
            value = "".join(rnd.choice(alphabet) for _ in range(20))
        else:
            value = "cus_" + "".join(rnd.choice(alphabet) for _ in range(14))
        if id_kind(value):
            return value


def random_api(rnd: random.Random) -> list[list[tuple[str, str, str]]]:
    """Templates as segments: ("static", word, "") or ("param", kind, suffix)."""
    templates: list[list[tuple[str, str, str]]] = []

    def grow(prefix: list[tuple[str, str, str]], depth: int) -> None:
        for word in rnd.sample(WORDS, rnd.randint(1, 3)):
            collection = [*prefix, ("static", word, "")]
            if rnd.random() < 0.5:
                templates.append(collection)
            if depth < 3 and rnd.random() < 0.8:
                suffix = ".json" if rnd.random() < 0.15 else ""
                kind = rnd.choice(FILE_KINDS if suffix else KINDS)
                item = [*collection, ("param", kind, suffix)]
                templates.append(item)
                if rnd.random() < 0.25:
                    templates.append([*item, ("param", rnd.choice(KINDS), "")])
                if not suffix and rnd.random() < 0.6:
                    grow(item, depth + 1)
            elif rnd.random() < 0.3:
                templates.append([*collection, ("static", "export.csv", "")])

    grow([("static", word, "") for word in rnd.choice(PREFIXES)], 0)
    return templates


def render(template: list[tuple[str, str, str]]) -> str:
    return "/" + "/".join(value if kind == "static" else "{}" + suffix for kind, value, suffix in template)


@settings(max_examples=150, deadline=None)
@given(st.randoms(use_true_random=False))
def test_it_recovers_the_templates_of_random_apis(rnd: random.Random) -> None:
    templates = random_api(rnd)
    expected = {render(t) for t in templates}
    urls = []
    for template in templates:
        for _ in range(3):
            path = "/".join(
                value if kind == "static" else id_value(value, rnd) + suffix for kind, value, suffix in template
            )
            urls.append(f"https://api.example.com/{path}")
    rnd.shuffle(urls)
    builder = ModelBuilder()
    for url in urls:
        builder.add(witness_from_entry({"request": {"method": "GET", "url": url}, "response": {"status": 200}}))
    found = {re.sub(r"\{[^}]+\}", "{}", e["path"]) for e in builder.result()["endpoints"]}
    assert found == expected
