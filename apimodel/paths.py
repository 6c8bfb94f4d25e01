"""Path templating: a trie of path segments that turns concrete paths into templates.

A segment becomes a parameter when it is an id (integer, uuid, hex or base62 token, date,
email, a word with a long number in it, …; `classify_segment`), except where versions live
(`/2/…`, `/api/0/…`, `/2010-04-01/…`) unless several numbers sit side by side there. A segment
that reads like a word stays a static route unless the traffic shows it is a value
(`_Folding`): a body names it as an identifier (there, or anywhere in the API), it starts with a
capital where no route does, it is percent-encoded, it has the format of the API's ids, it only
failed as a missing id fails beside its parameter, its siblings have the same sub-routes and answer
alike, or many look-alike siblings answer alike (usernames, slugs); away from where versions live, a
word written like a version that a body names is a value too (`/releases/tags/v1.0.0`). Ids seen
with and without an extension are file names, one parameter (`/contents/{path}`). Static
segments win over parameters: `/users/me` stays beside `/users/{user_id}`. Memory is bounded: a
node keeps at most `MAX_STATIC_CHILDREN` static children before folding them into its parameter,
and what a node remembers for the rules (echoed or not, a few id formats, whether it was seen
under several values) is small.
"""

import bisect
import functools
import pickle
import re
import zlib
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, Self, TypeVar
from urllib.parse import unquote

from apimodel.formats import id_kind
from apimodel.schema import Schema, meld, text_schema

MAX_STATIC_CHILDREN = 100
MAX_SUFFIXES = 8
# formats remembered per parameter (the first in sorted order, so the set does not depend on arrival order)
MAX_SHAPES = 4
# below this many look-alike static siblings, words stay static routes; under a
# collection (a plural word or a parameter) values come sooner than under other words
FANOUT_MIN = 10
FANOUT_MIN_UNDER_WORD = 25
FANOUT_SHARE = 0.75

_FILE_EXTENSION = re.compile(r"(.+)(\.[A-Za-z][A-Za-z0-9]{0,5})")
_VERSION = re.compile(r"v\d+(\.\d+)*|\d+\.\d+")
# versions that read like ids (`/2/tweets`, `/api/0/projects`, `/2010-04-01/Accounts`) are kept static where
# versions live: first, or after plain words such as `api`, before any collection, id or other version;
# a version is a small number (a year at most) or a date, never a long number (`/user/583231`)
_VERSION_NUMBER = re.compile(r"\d{1,4}|\d{4}-\d{2}-\d{2}")
_SHAPE = str.maketrans(dict.fromkeys("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "x"))
# a format long enough to tell ids from words even without separators
LONG_SHAPE = 16
# how deep below two siblings their sub-routes are compared, and with how many siblings each is compared
MAX_TAIL = 3
NEIGHBOURS = 8
# what a server answers for a value that does not exist or is malformed
_NO_SUCH_VALUE = frozenset([400, 404, 410, 422])
_PARAM = re.compile(r"\{([^{}/]*)\}")
# a long number inside a word: a name made by a program (`slo-test-1704322485`), not a route
_LONG_NUMBER = re.compile(r"\d{6}")
_NAME_CHARS = re.compile(r"[^a-z0-9]+")


class Mergeable(Protocol):
    """What the trie stores per method at a node: stats that can absorb others."""

    def merge(self, other: Self) -> None: ...


T = TypeVar("T", bound=Mergeable)


@dataclass
class PathNode(Generic[T]):
    """One position of a path: static children by literal, parameter children by suffix."""

    static: dict[str, "PathNode[T]"] = field(default_factory=dict)
    params: dict[str, "PathNode[T]"] = field(default_factory=dict)
    value_schema: Schema | None = None
    forced_name: str | None = None
    pinned: bool = False
    folded: bool = False
    # a body named this segment as an identifier (`witness.path_echoes`)
    echoed: bool = False
    # formats (`shape_of`) of the ids this parameter took, the MAX_SHAPES first in sorted order
    shapes: list[str] = field(default_factory=list)
    # hashes of up to two distinct values of the nearest parameter (or folded word) above this node
    parent_values: list[int] = field(default_factory=list)
    endpoints: dict[str, T] = field(default_factory=dict)

    def merge(self, other: "PathNode[T]") -> None:
        """Absorb `other` (a sibling subtree folded into this one)."""
        for literal, child in other.static.items():
            _absorb(self.static, literal, child)
        for suffix, child in other.params.items():
            _absorb(self.params, suffix, child)
        if other.value_schema is not None:
            self.value_schema = (
                other.value_schema if self.value_schema is None else meld(self.value_schema, other.value_schema)
            )
        self.forced_name = self.forced_name or other.forced_name
        self.pinned = self.pinned or other.pinned
        self.folded = self.folded or other.folded
        self.echoed = self.echoed or other.echoed
        for shape in other.shapes:
            self.add_shape(shape)
        for value in other.parent_values:
            self._add_parent_hash(value)
        for method, stats in other.endpoints.items():
            if method in self.endpoints:
                self.endpoints[method].merge(stats)
            else:
                self.endpoints[method] = stats

    def add_parent_value(self, segment: str) -> None:
        """Note the segment this node was reached from (only whether there were several is kept)."""
        if len(self.parent_values) < 2:
            self._add_parent_hash(zlib.crc32(segment.encode()))

    def _add_parent_hash(self, value: int) -> None:
        if value not in self.parent_values and len(self.parent_values) < 2:
            self.parent_values.append(value)

    def add_shape(self, shape: str) -> None:
        """Remember one more format of this parameter's ids."""
        shapes = self.shapes
        if shape not in shapes and (len(shapes) < MAX_SHAPES or shape < shapes[-1]):
            bisect.insort(shapes, shape)
            del shapes[MAX_SHAPES:]


def shape_of(segment: str) -> str:
    """The format of a segment: letters and digits become `x` (`0vk-kph-3ri` → `xxx-xxx-xxx`)."""
    return segment.translate(_SHAPE)


def _distinctive(segment_shape: str) -> bool:
    """Whether ids of this format could hardly be mistaken for route words."""
    return len(segment_shape) >= LONG_SHAPE or segment_shape.strip("x") != ""


def _absorb(children: dict[str, PathNode[T]], key: str, child: PathNode[T]) -> None:
    if key in children:
        children[key].merge(child)
    else:
        children[key] = child


@functools.lru_cache(maxsize=65536)
def classify_segment(segment: str) -> tuple[str, Schema] | None:
    """`(suffix, schema)` when a path segment holds an id, None when it is a static word.

    `suffix` is the file extension kept static in file-like segments (`{report_id}.csv`).
    """
    text = unquote(segment)
    kind = id_kind(text)
    if kind is not None:
        return "", _kind_schema(kind)
    file_like = _FILE_EXTENSION.fullmatch(text)
    if file_like is not None and (kind := id_kind(file_like.group(1))) is not None:
        return file_like.group(2), _kind_schema(kind)
    if _LONG_NUMBER.search(text):
        return "", {"type": "string"}
    return None


def _kind_schema(kind: str) -> Schema:
    return {"type": "integer"} if kind == "integer" else {"type": "string", "format": kind}


def _word_schema(segment: str) -> Schema:
    classified = classify_segment(segment)
    return text_schema(unquote(segment)) if classified is None else classified[1]


def parse_template(template: str) -> list[str | None]:
    """Segments of a hint template: the literal, or None for a `{parameter}`."""
    stripped = template.strip("/")
    return [None if _PARAM.fullmatch(part) else part for part in stripped.split("/")] if stripped else []


def matches(pattern: list[str | None], segments: list[str]) -> bool:
    """Whether the segments start with the pattern (None matches any one segment)."""
    if len(pattern) > len(segments):
        return False
    return all(p is None or p == s for p, s in zip(pattern, segments, strict=False))


@dataclass(frozen=True)
class ForcedTemplate:
    """A template from the user's hints that must win over inference."""

    pattern: list[str | None]
    names: list[str | None]

    @classmethod
    def parse(cls, template: str) -> "ForcedTemplate":
        """Read `/files/{path}` style templates."""
        pattern = parse_template(template)
        parts = template.strip("/").split("/")
        names = [m.group(1) if (m := _PARAM.fullmatch(p)) else None for p in parts[: len(pattern)]]
        return cls(pattern, names)


@dataclass
class PathParam:
    """A path parameter of a template."""

    name: str
    schema: Schema


class PathTrie(Generic[T]):
    """The paths of one host. `insert` a path, then read `templates()`."""

    def __init__(self, forced: list[ForcedTemplate], static: list[list[str | None]]) -> None:
        self.root: PathNode[T] = PathNode()
        self._forced = forced
        self._static_by_length: dict[int, list[list[str | None]]] = {}
        for pattern in static:
            self._static_by_length.setdefault(len(pattern), []).append(pattern)

    def _forced_for(self, segments: list[str]) -> ForcedTemplate | None:
        fitting = [f for f in self._forced if len(f.pattern) == len(segments) and matches(f.pattern, segments)]
        # the most specific hint wins: the one with the most static segments
        return max(fitting, key=lambda f: sum(p is not None for p in f.pattern), default=None)

    def _pinned(self, segments: list[str], length: int) -> bool:
        return any(matches(p, segments) for p in self._static_by_length.get(length, ()))

    def insert(self, segments: list[str], echoes: Collection[int] = ()) -> PathNode[T]:
        """Walk (and grow) the trie along a concrete path; return the node of its endpoint.

        `echoes`: the indexes of segments that a body named as an identifier."""
        node = self.root
        forced = self._forced_for(segments) if self._forced else None
        hinted = forced is not None or bool(self._static_by_length)
        version_slot = True
        value_above: str | None = None  # the segment of the nearest parameter above
        for depth, segment in enumerate(segments):
            if node.value_schema is not None:
                value_above = segments[depth - 1]
            if forced is not None and forced.pattern[depth] is None:
                node = self._param_child(node, "", _word_schema(segment))
                node.forced_name = forced.names[depth]
            elif hinted and (forced is not None or self._pinned(segments, depth + 1)):
                node = node.static.setdefault(segment, PathNode())
                node.pinned = True
            elif (existing := node.static.get(segment)) is not None:
                node = existing
            else:
                node = self._new_child(node, segment, version_slot)
            if echoes and depth in echoes:
                node.echoed = True
            if value_above is not None and len(node.parent_values) < 2:
                # a segment that recurs under several values of a parameter is a route, not a value
                node.add_parent_value(value_above)
            version_slot = version_slot and node.value_schema is None and _namespace_word(segment)
        return node

    def _new_child(self, node: PathNode[T], segment: str, version_slot: bool) -> PathNode[T]:
        """The child of `node` for a segment it has no static child for: its parameter, or a new static child."""
        held = node.folded or (version_slot and _VERSION_NUMBER.fullmatch(segment) is not None)
        classified = None if held else classify_segment(segment)
        if classified is not None:
            suffix, schema = classified
            if suffix not in node.params and len(node.params) >= MAX_SUFFIXES:
                suffix = ""
            child = self._param_child(node, suffix, schema)
            # only distinctive formats are ever used: short letters and digits are not worth a translation
            if len(segment) >= LONG_SHAPE or not (segment.isascii() and segment.isalnum()):
                child.add_shape(shape_of(segment))
            return child
        if node.folded:
            return self._param_child(node, "", _word_schema(segment))
        child = node.static[segment] = PathNode()
        if len(node.static) > MAX_STATIC_CHILDREN:
            _fold_static(node, [key for key, c in node.static.items() if not c.pinned])
            node.folded = True
            child = node.params[""]
        return child

    @staticmethod
    def _param_child(node: PathNode[T], suffix: str, schema: Schema) -> PathNode[T]:
        child = node.params.get(suffix)
        if child is None:
            child = node.params[suffix] = PathNode(value_schema=schema)
        elif child.value_schema != schema:
            child.value_schema = schema if child.value_schema is None else meld(child.value_schema, schema)
        return child

    def merge(self, other: "PathTrie[T]") -> None:
        """Absorb the paths of `other` (made with the same hints) as if they had been inserted here.
        `other`'s nodes are taken over, not copied."""
        self.root.merge(other.root)
        _settle(self.root)

    def templates(self) -> Iterator[tuple[str, list[PathParam], PathNode[T]]]:
        """(template, path parameters, node) of every node with endpoints, after folding
        static children that are values into parameters. The trie itself is left as it was."""
        # a pickle round trip is a deep copy, several times faster than copy.deepcopy
        root = pickle.loads(pickle.dumps(self.root, pickle.HIGHEST_PROTOCOL))  # noqa: S301 - made just now
        folding = _Folding(root)
        # a pass that found new names may show them elsewhere, above where they were found
        while folding.fold_all(root):
            pass
        yield from _walk(root, [], [], None)


def _fold_static(node: PathNode[T], literals: list[str]) -> None:
    """Fold static children into the node's plain parameter child."""
    for literal in literals:
        child = node.static.pop(literal)
        for grandchild in (*child.static.values(), *child.params.values()):
            grandchild.add_parent_value(literal)
        schema = _word_schema(literal)
        child.value_schema = schema if child.value_schema is None else meld(child.value_schema, schema)
        _absorb(node.params, "", child)


def _settle(node: PathNode[T]) -> None:
    """Keep the bounds `insert` keeps in a subtree that absorbed another: static children past
    MAX_STATIC_CHILDREN (or any, once folded) fold into the parameter, suffixes past MAX_SUFFIXES too."""
    if node.folded or len(node.static) > MAX_STATIC_CHILDREN:
        _fold_static(node, [key for key, child in node.static.items() if not child.pinned])
        node.folded = True
    for suffix in sorted(suffix for suffix in node.params if suffix)[MAX_SUFFIXES:]:
        _absorb(node.params, "", node.params.pop(suffix))
    for child in [*node.static.values(), *node.params.values()]:
        _settle(child)


def _nodes(root: PathNode[T]) -> Iterator[PathNode[T]]:
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.static.values())
        stack.extend(node.params.values())


def _candidates(node: PathNode[Any]) -> list[str]:
    """Static children that may be values: not pinned by a hint, not versions."""
    return [key for key, child in node.static.items() if not child.pinned and not _VERSION.fullmatch(key)]


def _capitalised(segment: str) -> bool:
    """Whether a segment's first letter is a capital (`Lyloa`, `SUPER_ADMIN`, `Accounts`; not `agentPools`)."""
    letters = [c for c in segment if c.isalpha()]
    return len(letters) > 1 and letters[0].isupper()


def _neighbours(keys: list[str], index: int) -> list[str]:
    """The NEIGHBOURS keys after `keys[index]` in the sorted `keys` (wrapping): the siblings it is compared
    with, so that a node's work grows with its children, not with their square."""
    return [keys[(index + step) % len(keys)] for step in range(1, min(len(keys), NEIGHBOURS + 1))]


def _apart(a: PathNode[Any], b: PathNode[Any], literal: str) -> bool:
    """Whether two siblings could be two values: below a parameter, only if seen under different values of it
    (two routes of one object are seen under the same one)."""
    return literal != "" or not set(a.parent_values) & set(b.parent_values)


def _numbers_not_versions(node: PathNode[Any]) -> set[str]:
    """Numbers (or dates) held back as versions are ids when several sit side by side, or beside longer
    numbers that are ids: an API is seen in one version, or in a few that differ in form (`/1.1/…` beside
    `/2/…`)."""
    held = {key for key in _candidates(node) if _VERSION_NUMBER.fullmatch(key)}
    ids = node.params.get("")
    beside_ids = ids is not None and ids.value_schema == {"type": "integer"}
    return held if len(held) > 1 or (held and beside_ids) else set()


def _structural_candidates(node: PathNode[Any], literal: str) -> list[str]:
    """Candidates that only the structure around them could show are values: below a parameter (`literal`
    ""), not those that recur under several of its values, since a route does."""
    candidates = _candidates(node)
    if literal != "":
        return candidates
    return [key for key in candidates if len(node.static[key].parent_values) < 2]


def _sibling_id_shapes(node: PathNode[Any]) -> set[str]:
    """Distinctive formats shared by several static children, one of them with a digit: ids minted in a
    format of their own (`0vk-kph-3ri` beside `hvb-for-lpm`), which no two route words share."""
    groups: dict[str, list[str]] = {}
    for key in _candidates(node):
        key_shape = shape_of(key)
        if _distinctive(key_shape):
            groups.setdefault(key_shape, []).append(key)
    return {s for s, keys in groups.items() if len(keys) > 1 and any(c.isdigit() for key in keys for c in key)}


# the end of a route below a node: how many segments down it starts, and its segments
Tail = tuple[int, tuple[str, ...]]


def _routes_below(node: PathNode[T], depth: int = MAX_TAIL) -> Iterator[tuple[tuple[str, ...], PathNode[T]]]:
    """(relative path, node) of the endpoints below `node`, `depth` deep at most; parameters read `{}`."""
    children = [*node.static.items(), *(("{}" + suffix, child) for suffix, child in node.params.items())]
    for key, child in children:
        if child.endpoints:
            yield (key,), child
        if depth > 1:
            for route, end in _routes_below(child, depth - 1):
                yield (key, *route), end


def _tails(node: PathNode[T]) -> dict[Tail, list[PathNode[T]]]:
    """The ends of the routes below `node` that hold a word (`/{owner}/{repo}/pulls` ends in `pulls`, one
    segment down), with the nodes they lead to."""
    tails: dict[Tail, list[PathNode[T]]] = {}
    for route, end in _routes_below(node):
        for start in range(len(route)):
            if any(not part.startswith("{") for part in route[start:]):
                tails.setdefault((start, route[start:]), []).append(end)
    return tails


def _field_names(schema: object, names: set[str]) -> set[str]:
    """Every property name in a JSON schema, at any depth."""
    if isinstance(schema, dict):
        for name, inner in (schema.get("properties") or {}).items():
            names.add(name)
            _field_names(inner, names)
        _field_names(schema.get("items"), names)
        _field_names(schema.get("additionalProperties"), names)
    return names


def _bodies(node: PathNode[Any]) -> dict[tuple[str, object], set[str]]:
    """Field names of the request and response bodies of a node's endpoints, by method and status."""
    bodies: dict[tuple[str, object], set[str]] = {}
    for method, stats in node.endpoints.items():
        bodies[(method, "request")] = set().union(*(_field_names(b.schema, set()) for b in stats.request_body.values()))
        for status, answers in stats.responses.items():
            bodies[(method, status)] = set().union(*(_field_names(b.schema, set()) for b in answers.content.values()))
    return bodies


def _signature(node: PathNode[Any]) -> tuple[frozenset[str], int, bool]:
    return frozenset(node.endpoints), min(len(node.static), 2), bool(node.params)


def _statuses(node: PathNode[Any]) -> set[int]:
    """Every status answered at or below a node."""
    return {status for n in _nodes(node) for stats in n.endpoints.values() for status in stats.responses}


def _asked_like(stats: Any, theirs: Any) -> bool:
    """Whether requests were made the same way: no query parameter of one that the other never sent, and
    every one the other always sent."""
    mine, other = set(stats.query), set(theirs.query)
    always = {name for name, item in theirs.query.items() if item.count == theirs.count}
    return mine <= other and always <= mine


class _Folding:
    """One pass over a copy of a trie that folds the static children that are values into parameters.

    Reads the endpoint stats the builder keeps at nodes (`endpoint.EndpointStats`): statuses, bodies, query."""

    def __init__(self, root: PathNode[Any]) -> None:
        self.id_shapes = self._api_id_shapes(root)
        # routes for sure: the root's children (nothing is folded there) and the words ids sit below
        self.capitalised_routes = any(map(_capitalised, root.static)) or any(
            _capitalised(key) for node in _nodes(root) for key, child in node.static.items() if child.params
        )
        # by node id, valid until the next fold changes nodes
        self._bodies_by_node: dict[int, dict[tuple[str, object], set[str]]] = {}
        self._tails_by_node: dict[int, dict[Tail, list[PathNode[Any]]]] = {}
        # the words found to be values so far, anywhere
        self.names: set[str] = set()

    def fold_all(self, root: PathNode[Any]) -> bool:
        """One pass over the whole trie; whether it found values by names not seen before."""
        known = len(self.names)
        self.fold(root, None, True)
        return len(self.names) > known

    @staticmethod
    def _api_id_shapes(root: PathNode[Any]) -> set[str]:
        """The formats of this API's ids: those its parameters took, and those of `_sibling_id_shapes`."""
        shapes: set[str] = set()
        for node in _nodes(root):
            shapes.update(s for s in node.shapes if _distinctive(s))
            shapes |= _sibling_id_shapes(node)
        return shapes

    def fold(self, node: PathNode[Any], literal: str | None, versions_live: bool) -> None:
        """Fold the values among the static children of `node` (reached by `literal`: None for the root,
        "" for a parameter; `versions_live` where versions may follow, as in `insert`), then below.
        Top-down, so that folding owners exposes their repositories."""
        # folding some values makes (or grows) the parameter that tells others apart
        while literal is not None and (values := self.values(node, literal, versions_live)):
            _fold_static(node, sorted(values))
            self._bodies_by_node.clear()
            self._tails_by_node.clear()
        if "" in node.params:
            # values seen with and without an extension are file names: the extension is part of the value
            for suffix in [suffix for suffix in node.params if suffix]:
                _absorb(node.params, "", node.params.pop(suffix))
                self._bodies_by_node.clear()
                self._tails_by_node.clear()
        for key, child in node.static.items():
            self.fold(child, key, versions_live and _namespace_word(key))
        for child in node.params.values():
            self.fold(child, "", False)

    def values(self, node: PathNode[Any], literal: str, versions_live: bool) -> set[str]:
        """The static children of `node` (reached by `literal`) that are values, by every rule."""
        values = set(self.shown_values(node)) | _numbers_not_versions(node)
        if not versions_live:
            values.update(self.named_versions(node))
        values.update(self.named_values(node, literal), self.capitalised_values(node))
        values.update(self.lookalikes(node, literal), self.alike_subtrees(node, literal), self.failed_values(node))
        return values

    def named_versions(self, node: PathNode[Any]) -> list[str]:
        """Words written like versions away from where versions live (`/releases/tags/v1.0.0`) that a body
        names as an identifier, there or elsewhere: tags and releases, not versions of the API."""
        versions = []
        for key, child in node.static.items():
            if not child.pinned and _VERSION.fullmatch(key) and (child.echoed or key in self.names):
                self.names.add(key)
                versions.append(key)
        return versions

    def capitalised_values(self, node: PathNode[Any]) -> list[str]:
        """Static children that start with a capital (`SUPER_ADMIN`, `Lyloa`) in an API none of whose routes
        do: names and constants, not routes."""
        if self.capitalised_routes:
            return []
        return [key for key in _candidates(node) if _capitalised(key)]

    def named_values(self, node: PathNode[Any], literal: str) -> list[str]:
        """Static children that a body named as an identifier elsewhere in the API (`/orgs/acme/members/ada`
        beside `GET /users/ada` answering `{"login": "ada"}`), unless they lead to ids of their own
        (collections) or recur under several values of a parameter above them (routes)."""
        return [
            key
            for key in _structural_candidates(node, literal)
            if key in self.names and not node.static[key].params and len(node.static[key].parent_values) < 2
        ]

    def shown_values(self, node: PathNode[Any]) -> list[str]:
        """Static children of a node below the root that show they are values: a body names them as
        identifiers, they are percent-encoded (no route word needs escaping), they have the format of the
        ids beside them, or they have a digit and the format of the API's ids elsewhere."""
        local = _sibling_id_shapes(node).union(*(p.shapes for p in node.params.values()))
        values = []
        for key in _candidates(node):
            key_shape = shape_of(key)
            if node.static[key].echoed:
                self.names.add(key)
            if (
                node.static[key].echoed
                or "%" in key
                or (key_shape in local and _distinctive(key_shape))
                or (key_shape in self.id_shapes and any(c.isdigit() for c in key))
            ):
                values.append(key)
        return values

    def alike(self, a: PathNode[Any], b: PathNode[Any]) -> bool:
        """Whether two endpoints' bodies have mostly the same fields wherever both have some (values of one
        parameter lead to the same kind of resource; parallel routes such as two integrations' accounts do
        not)."""
        mine, theirs = self.bodies(a), self.bodies(b)
        for key, names in mine.items():
            other = theirs.get(key)
            if names and other and 3 * len(names & other) < 2 * len(names | other):
                return False
        return True

    def bodies(self, node: PathNode[Any]) -> dict[tuple[str, object], set[str]]:
        """`_bodies`, remembered."""
        found = self._bodies_by_node.get(id(node))
        if found is None:
            found = self._bodies_by_node[id(node)] = _bodies(node)
        return found

    def tails(self, node: PathNode[Any]) -> dict[Tail, list[PathNode[Any]]]:
        """`_tails`, remembered."""
        found = self._tails_by_node.get(id(node))
        if found is None:
            found = self._tails_by_node[id(node)] = _tails(node)
        return found

    def shared_tails(self, a: PathNode[Any], b: PathNode[Any]) -> list[Tail]:
        """The sub-routes found below both nodes."""
        theirs = self.tails(b)
        return [tail for tail in self.tails(a) if tail in theirs]

    def similar(self, a: PathNode[Any], b: PathNode[Any]) -> bool:
        """Whether two subtrees answer alike at their own endpoints and at every sub-route they share."""
        mine, theirs = self.tails(a), self.tails(b)
        return self.alike(a, b) and all(
            self.alike(x, y) for tail in self.shared_tails(a, b) for x in mine[tail] for y in theirs[tail]
        )

    def alike_siblings(self, a: PathNode[Any], b: PathNode[Any]) -> bool:
        """Whether two subtrees share a sub-route and answer alike."""
        return bool(self.shared_tails(a, b)) and self.similar(a, b)

    def alike_subtrees(self, node: PathNode[Any], literal: str) -> list[str]:
        """Under a collection (a plural word, a parameter, or a node with ids below), static children with
        the same sub-routes as their parameter or a sibling, answering alike, are values (`/users/ada/repos`
        beside `/users/alan/repos`), unless ids sit right below them (collections of their own). Siblings
        that are all plural words are collections (`/synthetics/suites/search` beside `/synthetics/tests/search`)."""
        if literal != "" and not node.params and not _plural(literal):
            return []
        candidates = sorted(
            key
            for key in _structural_candidates(node, literal)
            if not (node.static[key].params or self.shown_values(node.static[key]))
        )
        like_param = {
            key for key in candidates if any(self.alike_siblings(node.static[key], p) for p in node.params.values())
        }
        like_sibling = [
            key
            for index, key in enumerate(candidates)
            if any(
                _apart(node.static[key], node.static[k], literal)
                and self.alike_siblings(node.static[key], node.static[k])
                for k in _neighbours(candidates, index)
            )
        ]
        if all(_plural(key) for key in like_sibling):
            return sorted(like_param)
        return sorted(like_param.union(like_sibling))

    def lookalikes(self, node: PathNode[Any], literal: str) -> list[str]:
        """Many static children alike (same methods, same sub-route count, no ids below, answering alike:
        usernames, slugs), not parallel routes (`/usage/hosts`, `/usage/logs`, … answer differently)."""
        candidates = _structural_candidates(node, literal)
        if _VERSION.fullmatch(literal):
            return []
        collection = literal == "" or _plural(literal)
        if len(candidates) < (FANOUT_MIN if collection else FANOUT_MIN_UNDER_WORD):
            return []
        signatures = Counter(_signature(node.static[key]) for key in candidates)
        signature, count = signatures.most_common(1)[0]
        # collections (children with ids below) are routes, not values
        if count < FANOUT_SHARE * len(candidates) or signature[2]:
            return []
        group = sorted(key for key in candidates if _signature(node.static[key]) == signature)
        values = []
        for index, key in enumerate(group):
            others = _neighbours(group, index)
            alike = sum(
                _apart(node.static[key], node.static[k], literal) and self.similar(node.static[key], node.static[k])
                for k in others
            )
            if 2 * alike >= len(others):
                values.append(key)
        return values

    @staticmethod
    def failed_values(node: PathNode[Any]) -> list[str]:
        """Static children beside a parameter that only failed the way a missing or malformed value does
        (`/api_keys/invalidId` answering 404 beside `/api_keys/{id}`), asked with the parameter's methods and
        query parameters (`/invoices/upcoming`, asked without what `/invoices/{id}` always sends, stays)."""
        param = node.params.get("")
        if param is None:
            return []
        values = []
        for key in _candidates(node):
            child = node.static[key]
            if (
                child.endpoints
                and _statuses(child) <= _NO_SUCH_VALUE
                and all(
                    method in param.endpoints and _asked_like(stats, param.endpoints[method])
                    for method, stats in child.endpoints.items()
                )
            ):
                values.append(key)
        return values


def param_name(parent: str | None) -> str:
    """`users` → `user_id`: a parameter named after the static segment before it."""
    if parent is None or _VERSION.fullmatch(parent):
        return "param"
    word = _NAME_CHARS.sub("_", unquote(parent).lower()).strip("_")
    if not word or word[0].isdigit():
        return "param"
    return f"{singular(word)}_id"


def _plural(word: str) -> bool:
    return singular(word.lower()) != word.lower()


@functools.lru_cache(maxsize=4096)
def _namespace_word(segment: str) -> bool:
    """A word after which a version may still come (`api`, `rest`): not a collection, an id or a version."""
    return not (_plural(segment) or _VERSION.fullmatch(segment) or _VERSION_NUMBER.fullmatch(segment))


def singular(word: str) -> str:
    """Singular of a simple English plural (`categories` → `category`, `boxes` → `box`)."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes", "uses")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _unique(name: str, used: list[str]) -> str:
    candidate, n = name, 2
    while candidate in used:
        candidate, n = f"{name}{n}", n + 1
    return candidate


def _walk(
    node: PathNode[T], parts: list[str], params: list[PathParam], parent: str | None
) -> Iterator[tuple[str, list[PathParam], PathNode[T]]]:
    if node.endpoints:
        yield "/" + "/".join(parts), params, node
    for literal in sorted(node.static):
        yield from _walk(node.static[literal], [*parts, literal], params, literal)
    for suffix in sorted(node.params):
        child = node.params[suffix]
        name = _unique(child.forced_name or param_name(parent), [p.name for p in params])
        param = PathParam(name, child.value_schema or {"type": "string"})
        yield from _walk(child, [*parts, f"{{{name}}}{suffix}"], [*params, param], None)
