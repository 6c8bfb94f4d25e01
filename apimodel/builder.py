"""Fold witnesses, one at a time and in any order, into an API model."""

import pickle
import re
from dataclasses import dataclass, field
from typing import Any

from apimodel.auth import security_scheme
from apimodel.endpoint import EndpointStats
from apimodel.model_types import ApiModel
from apimodel.paths import ForcedTemplate, PathTrie, matches, parse_template

# health checks and static assets are noise in an API model unless asked for
_DEFAULT_HIDDEN_NAMES = frozenset(
    ["health", "healthz", "healthcheck", "livez", "readyz", "ping", "favicon.ico", "robots.txt"]
)
_DEFAULT_HIDDEN_EXTENSIONS = re.compile(
    r".*\.(css|js|mjs|map|png|jpe?g|gif|svg|webp|avif|ico|bmp|woff2?|ttf|otf|eot)", re.IGNORECASE
)


MAX_SEGMENTS = 48
# The version of a builder's state: `state.dump_builder` writes it and `state.load_builder` reads only
# its own. Bump it when the state changes shape (tests/apimodel/test_state.py fails until you do).
STATE_VERSION = 5


@dataclass
class PathHints:
    """User corrections to path templating.

    `force`: templates that win over inference (`/users/{user_id}/avatar`); a `{…}`
    segment matches any one segment. `static`: paths whose segments stay static
    (`/users/me`). `hidden`: templates or prefixes of endpoints left out of the model.
    Health checks and static assets are hidden unless `show_default_hidden`.
    """

    force: list[str] = field(default_factory=list)
    static: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)
    show_default_hidden: bool = False


def is_default_hidden(segments: list[str]) -> bool:
    """Whether a path is a health check or a static asset."""
    last = segments[-1].lower() if segments else ""
    # the extension pattern needs a dot: most segments (ids, words) skip the regex
    return last in _DEFAULT_HIDDEN_NAMES or ("." in last and _DEFAULT_HIDDEN_EXTENSIONS.fullmatch(last) is not None)


class ModelBuilder:
    """Streams witnesses into an API model.

    Memory grows with the number of endpoints and the size of their schemas, not with
    the number of witnesses; the result does not depend on the order of `add` calls.
    Its state (see `state.py`): `hints`, `witness_count`, `tries` (the paths of each host with
    their endpoints' stats), `servers` (`scheme://host` seen) and `claims` (JWT claim names per scheme).
    """

    def __init__(self, hints: PathHints | None = None) -> None:
        self.hints = hints or PathHints()
        self.witness_count = 0
        self._forced = [ForcedTemplate.parse(t) for t in self.hints.force]
        self._static = [parse_template(t) for t in self.hints.static]
        self._hidden = [parse_template(t) for t in self.hints.hidden]
        self.tries: dict[str, PathTrie[EndpointStats]] = {}
        self.servers: set[str] = set()
        self.claims: dict[str, set[str]] = {}

    def trie(self, host: str) -> PathTrie[EndpointStats]:
        """The path trie of `host`, made empty on first use."""
        trie = self.tries.get(host)
        if trie is None:
            trie = self.tries[host] = PathTrie(self._forced, self._static)
        return trie

    def add(self, witness: dict[str, Any]) -> None:
        """Fold one witness (from `witness_from_entry`) into the model; one that raises is not counted."""
        self._fold(witness)
        self.witness_count += 1

    def _fold(self, witness: dict[str, Any]) -> None:
        segments = witness["path"].split("/")[1:]
        if segments == [""]:
            segments = []
        if len(segments) > MAX_SEGMENTS:
            # keeps the trie (and the recursion over it) shallow on absurd paths
            segments = [*segments[: MAX_SEGMENTS - 1], "/".join(segments[MAX_SEGMENTS - 1 :])]
        if not self.hints.show_default_hidden and is_default_hidden(segments):
            return
        if self._hidden and any(matches(pattern, segments) for pattern in self._hidden):
            return
        host = witness["host"]
        node = self.trie(host).insert(segments, witness.get("path_echoes", ()))
        stats = node.endpoints.get(witness["method"])
        if stats is None:
            stats = node.endpoints[witness["method"]] = EndpointStats()
        stats.add(witness)
        self.servers.add(f"{witness['scheme']}://{host}")
        claims = witness["auth"].get("claims")
        if claims is not None:
            self.claims.setdefault(witness["auth"]["scheme"], set()).update(claims)

    def merge(self, other: "ModelBuilder") -> None:
        """Fold the witnesses of `other`, a builder with the same path hints, into this one, as if they
        had been added here (`add` order never matters); `other` is left as it was."""
        if other.hints != self.hints:
            raise ValueError("cannot merge builders made with different path hints")
        self.witness_count += other.witness_count
        # a pickle round trip is a deep copy, several times faster than copy.deepcopy
        copied = pickle.dumps(other.tries, pickle.HIGHEST_PROTOCOL)
        tries: dict[str, PathTrie[EndpointStats]] = pickle.loads(copied)  # noqa: S301 - made just now
        for host, trie in tries.items():
            self.trie(host).merge(trie)
        self.servers |= other.servers
        for scheme, claims in other.claims.items():
            self.claims.setdefault(scheme, set()).update(claims)

    def result(self) -> ApiModel:
        """The model so far (see `model_types.ApiModel`); more witnesses may follow."""
        endpoints = [
            stats.to_model(method, host, template, params)
            for host, trie in self.tries.items()
            for template, params, node in trie.templates()
            for method, stats in node.endpoints.items()
        ]
        endpoints.sort(key=lambda e: (e["host"], e["path"], e["method"]))
        schemes = sorted({name for e in endpoints for name in e["auth"] if name != "none"})
        return {
            "witness_count": self.witness_count,
            "servers": sorted(self.servers),
            "endpoints": endpoints,
            "security_schemes": {name: security_scheme(name, sorted(self.claims.get(name, ()))) for name in schemes},
        }
