"""Path templating: a trie of path segments that turns concrete paths into templates.

A segment becomes a parameter when its value is an id (integer, uuid, hex or base62
token, date, email, …; `formats.id_kind`), or when one parent has many look-alike static
children (usernames, slugs). Static segments win over parameters: `/users/me` stays beside
`/users/{user_id}`. Memory is bounded: a node keeps at most `MAX_STATIC_CHILDREN` static
children before folding them into its parameter.
"""

import functools
import pickle
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, Self, TypeVar
from urllib.parse import unquote

from apimodel.formats import id_kind
from apimodel.schema import Schema, meld, text_schema

MAX_STATIC_CHILDREN = 100
MAX_SUFFIXES = 8
# below this many look-alike static siblings, words stay static routes; under a
# collection (a plural word or a parameter) values come sooner than under other words
FANOUT_MIN = 10
FANOUT_MIN_UNDER_WORD = 25
FANOUT_SHARE = 0.75

_FILE_EXTENSION = re.compile(r"(.+)(\.[A-Za-z][A-Za-z0-9]{0,5})")
_VERSION = re.compile(r"v\d+(\.\d+)*|\d+\.\d+")
_PARAM = re.compile(r"\{([^{}/]*)\}")
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
        for method, stats in other.endpoints.items():
            if method in self.endpoints:
                self.endpoints[method].merge(stats)
            else:
                self.endpoints[method] = stats


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
    if kind is None:
        file_like = _FILE_EXTENSION.fullmatch(text)
        if file_like is None:
            return None
        kind = id_kind(file_like.group(1))
        if kind is None:
            return None
        return file_like.group(2), _kind_schema(kind)
    return "", _kind_schema(kind)


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

    def insert(self, segments: list[str]) -> PathNode[T]:
        """Walk (and grow) the trie along a concrete path; return the node of its endpoint."""
        node = self.root
        forced = self._forced_for(segments) if self._forced else None
        hinted = forced is not None or bool(self._static_by_length)
        for depth, segment in enumerate(segments):
            if forced is not None and forced.pattern[depth] is None:
                node = self._param_child(node, "", _word_schema(segment))
                node.forced_name = forced.names[depth]
                continue
            pinned = hinted and (forced is not None or self._pinned(segments, depth + 1))
            existing = node.static.get(segment)
            if existing is not None or pinned:
                node = existing if existing is not None else node.static.setdefault(segment, PathNode())
                if pinned:
                    node.pinned = True
                continue
            classified = None if node.folded else classify_segment(segment)
            if classified is not None:
                suffix, schema = classified
                if suffix not in node.params and len(node.params) >= MAX_SUFFIXES:
                    suffix = ""
                node = self._param_child(node, suffix, schema)
            elif node.folded:
                node = self._param_child(node, "", _word_schema(segment))
            else:
                child: PathNode[T] = PathNode()
                node.static[segment] = child
                if len(node.static) > MAX_STATIC_CHILDREN:
                    _fold_static(node, [key for key, c in node.static.items() if not c.pinned])
                    node.folded = True
                    child = node.params[""]
                node = child
        return node

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
        look-alike static siblings into parameters. The trie itself is left as it was."""
        # a pickle round trip is a deep copy, several times faster than copy.deepcopy
        root = pickle.loads(pickle.dumps(self.root, pickle.HIGHEST_PROTOCOL))  # noqa: S301 - made just now
        _fold_lookalikes(root, None)
        yield from _walk(root, [], [], None)


def _fold_static(node: PathNode[T], literals: list[str]) -> None:
    """Fold static children into the node's plain parameter child."""
    for literal in literals:
        child = node.static.pop(literal)
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


def _signature(node: PathNode[Any]) -> tuple[frozenset[str], int, bool]:
    return frozenset(node.endpoints), min(len(node.static), 2), bool(node.params)


def _fold_lookalikes(node: PathNode[T], literal: str | None) -> None:
    """Fold look-alike static children of `node` (reached by `literal`: None for the root,
    "" for a parameter) into a parameter. Top-down, so that folding owners exposes the
    fan-out of their repositories below."""
    candidates = [key for key, child in node.static.items() if not child.pinned]
    if literal is None or _VERSION.fullmatch(literal):
        threshold = MAX_STATIC_CHILDREN + 1
    elif literal == "" or singular(literal.lower()) != literal.lower():
        threshold = FANOUT_MIN
    else:
        threshold = FANOUT_MIN_UNDER_WORD
    if len(candidates) >= threshold:
        signatures = Counter(_signature(node.static[key]) for key in candidates)
        signature, count = signatures.most_common(1)[0]
        # collections (children with ids below) are routes, not values
        if count >= FANOUT_SHARE * len(candidates) and not signature[2]:
            _fold_static(node, candidates)
    for key, child in node.static.items():
        _fold_lookalikes(child, key)
    for child in node.params.values():
        _fold_lookalikes(child, "")


def param_name(parent: str | None) -> str:
    """`users` → `user_id`: a parameter named after the static segment before it."""
    if parent is None or _VERSION.fullmatch(parent):
        return "param"
    word = _NAME_CHARS.sub("_", unquote(parent).lower()).strip("_")
    if not word or word[0].isdigit():
        return "param"
    return f"{singular(word)}_id"


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
