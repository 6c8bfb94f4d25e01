"""Random APIs: their concrete traffic must give back exactly their path templates.

The APIs mix ids of many kinds (some prefixed ids without a digit, which only their siblings' format gives
away), names chosen by users (few of them, named by the bodies that answer for them, as `GET /users/ada`
answers `{"login": "ada"}`, or only by another endpoint's answers, as `PUT /user/following/ada` answers
nothing), capitalised names and constants (`Lyloa`, `SUPER_ADMIN`) beside lower-case routes, names written
like versions away from where versions live (`/releases/tags/v1.0.0`), file names with and without
extensions (`1.md`, `2.txt`, `3`), and versions where versions live (`/2/…` beside `/1.1/…`, `/api/0/…`,
`/2010-04-01/…`). Requests of one template carry distinct ids, as real traffic does.
"""

import json
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
NAMES = ["ada", "grace", "octocat", "hello-world", "mit", "party", "small-monthly", "linus", "whytho", "default"]
CONSTANTS = ["SUPER_ADMIN", "USER_PROVISIONING", "Lyloa", "BILLING", "BeaverSoftware"]
TAGS = ["v1.0.0", "v2.1", "v0.9.3", "v10.2.0"]
# `member`: a name only other endpoints answer for (`/people/{name}`); `constant`: never answered for;
# `tag`: a name written like a version (`/releases/tags/v1.0.0`)
KINDS = ["integer", "uuid", "hex", "token", "prefixed", "date", "email", "file", "name", "member", "constant", "tag"]
NAMED = ("name", "member", "constant", "tag")
UNANSWERED = ("member", "constant")
FILE_KINDS = ["integer", "uuid", "hex", "token"]
PREFIXES = [
    [],
    ["v1"],
    ["api", "v2"],
    ["2"],
    ["1.1"],
    ["api", "2.0"],
    ["api", "0"],
    ["rest", "api", "3"],
    ["2010-04-01"],
]

Template = list[tuple[str, str, str]]  # ("static", word, "") or ("param", kind, suffix)


def id_value(kind: str, rnd: random.Random, n: int) -> str:
    """A random id of a kind, as real APIs mint them, distinct for each `n`; after the first, a prefixed id
    may lack a digit."""
    alphabet = string.ascii_letters + string.digits
    if kind == "integer":
        return str(rnd.randint(1, 10**6) * 10 + n)
    if kind == "uuid":
        return str(uuid.UUID(int=rnd.getrandbits(128), version=4))
    if kind == "file":  # file names: with one extension or another, or none
        return f"{rnd.randint(10**4, 10**6) * 10 + n}{('.md', '.txt', '')[n % 3]}"
    if kind == "date":
        return f"20{rnd.randint(10, 29)}-{rnd.randint(1, 12):02d}-{n + 1:02d}"
    if kind == "email":
        return f"{rnd.choice(WORDS)}{rnd.randint(1, 99)}@example.com"
    while True:
        if kind == "hex":
            value = "".join(rnd.choice("0123456789abcdef") for _ in range(24))
        elif kind == "token":
            value = "".join(rnd.choice(alphabet) for _ in range(20))
        else:
            suffix = rnd.choice([alphabet, string.ascii_letters])
            value = "cus_" + "".join(rnd.choice(suffix if n else alphabet) for _ in range(14))
            if n:
                return value
        if id_kind(value):
            return value


def random_api(rnd: random.Random) -> list[Template]:
    """Templates under one or two version prefixes."""
    templates: list[Template] = []

    def grow(prefix: Template, depth: int) -> None:
        for word in rnd.sample(WORDS, rnd.randint(1, 3)):
            collection = [*prefix, ("static", word, "")]
            if rnd.random() < 0.5:
                templates.append(collection)
            if depth < 3 and rnd.random() < 0.8:
                suffix = ".json" if rnd.random() < 0.15 else ""
                # below a parameter, a name no answer names recurs under several of its values, as a route does;
                # elsewhere, a word written like a version may be where the API's versions live
                below_parameter = any(part == "param" for part, _, _ in prefix)
                kinds = [k for k in KINDS if k != ("member" if below_parameter else "tag")]
                kind = rnd.choice(FILE_KINDS if suffix else kinds)
                item = [*collection, ("param", kind, suffix)]
                templates.append(item)
                # a word that no answer names is a route when it recurs under several values, or leads to ids
                if kind not in UNANSWERED and rnd.random() < 0.25:
                    templates.append([*item, ("param", rnd.choice([k for k in KINDS if k not in UNANSWERED]), "")])
                if not suffix and rnd.random() < 0.6:
                    grow(item, depth + 1)
            elif rnd.random() < 0.3:
                templates.append([*collection, ("static", "export.csv", "")])

    for prefix in rnd.sample(PREFIXES, rnd.randint(1, 2)):
        grow([("static", word, "") for word in prefix], 0)
    return templates


def render(template: Template) -> str:
    return "/" + "/".join(value if kind == "static" else "{}" + suffix for kind, value, suffix in template)


def answer(path: str, body: dict) -> dict:
    """A GET of `path` answering `body`."""
    response = {"status": 200, "content": {"mimeType": "application/json", "text": json.dumps(body)}}
    return {"request": {"method": "GET", "url": "https://api.example.com" + path}, "response": response}


def requests(template: Template, rnd: random.Random, names: dict[str, list[str]], members: set[str]) -> list[dict]:
    """Three requests of a template. A user chosen name is one of the few its collection has (so the same
    ones recur); the answer names each of them, as an API answers for the object a path names."""
    entries = []
    for n in range(3):
        segments, named = [], {}
        for position, (kind, value, suffix) in enumerate(template):
            if kind == "static":
                segments.append(value)
            elif value in NAMED:
                words = {"constant": CONSTANTS, "tag": TAGS}.get(value, NAMES)
                pool = names.setdefault(render(template[:position]), rnd.sample(words, rnd.randint(1, 2)))
                segments.append(rnd.choice(pool))
                if value in ("name", "tag"):
                    named[f"object{position}"] = {"login" if position % 2 else "key": segments[-1]}
                elif value == "member":
                    members.add(segments[-1])
            else:
                segments.append(id_value(value, rnd, n) + suffix)
        entries.append(answer("/" + "/".join(segments), named))
    return entries


@settings(max_examples=150, deadline=None)
@given(st.randoms(use_true_random=False))
def test_it_recovers_the_templates_of_random_apis(rnd: random.Random) -> None:
    templates = random_api(rnd)
    expected = {render(t) for t in templates}
    names: dict[str, list[str]] = {}
    members: set[str] = set()
    entries = [entry for template in templates for entry in requests(template, rnd, names, members)]
    # the names of members are answered for elsewhere
    entries += [answer(f"/people/{name}", {"login": name}) for name in sorted(members)]
    expected |= {"/people/{}"} if members else set()
    rnd.shuffle(entries)
    builder = ModelBuilder()
    for entry in entries:
        builder.add(witness_from_entry(entry))
    found = {re.sub(r"\{[^}]+\}", "{}", e["path"]) for e in builder.result()["endpoints"]}
    assert found == expected
