"""Seeded fault plans for :class:`tests.support.proxy.RegistryProxy`, and the oracle checks
that go with them.

::

    plan = FaultPlan(seed=3, rates=FaultRates(reset=0.05, server_error=0.1))
    proxy = make_proxy(registry.url, fault=plan)     # the plan is the proxy's fault hook
    ...
    plan.counts()        # {"reset": 2, "503": 1, "429": 1, "flip": 1, ...}
    plan.flips()         # the blob GETs whose bytes were flipped (repo, digest, offset)

A decision depends only on the seed and the request's identity: method, path (upload
session ids masked) and how many times that same request was seen before. So a seed gives
the same faults for the same requests whatever order concurrent requests arrive in, and a
retried request gets a fresh draw (a fault is not forever unless the rate is 1).

``assert_tags_complete(pusher, repo)`` is the "no tag points to incomplete content" check:
every tag's manifest, every child manifest and every blob exists and hashes to its digest.
It uses only the independent :class:`tests.support.pusher.Pusher`.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from tests.support.images import sha256_digest
from tests.support.proxy import Fault, ProxyRequest
from tests.support.pusher import Pusher

_UPLOAD_ID = re.compile(r"(/blobs/uploads/)[^/?]+")
_BLOB_PATH = re.compile(r"^/v2/(?P<repo>.+)/blobs/(?P<digest>sha256:[0-9a-f]{64})$")
_INDEX_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)


@dataclass(frozen=True, slots=True)
class FaultRates:
    """Probability of each fault per request (they are drawn in this order; at most one).

    ``truncate`` and ``flip`` apply only to GETs (a body to damage); the others to any request.
    """

    reset: float = 0.04  # close the connection without answering
    server_error: float = 0.06  # 500, 502 or 503
    rate_limited: float = 0.04  # 429 with Retry-After 0 or 1
    stall: float = 0.04  # wait stall_seconds, then forward
    truncate: float = 0.04  # forward, cut the body after a few bytes
    flip: float = 0.03  # forward, one body byte inverted
    stall_seconds: float = 0.3
    max_body_offset: int = 512  # truncate/flip offsets are drawn below this

    def scaled(self, factor: float) -> FaultRates:
        return FaultRates(
            reset=self.reset * factor,
            server_error=self.server_error * factor,
            rate_limited=self.rate_limited * factor,
            stall=self.stall * factor,
            truncate=self.truncate * factor,
            flip=self.flip * factor,
            stall_seconds=self.stall_seconds,
            max_body_offset=self.max_body_offset,
        )


NO_FLIPS_RATES = FaultRates(flip=0.0)


@dataclass(frozen=True, slots=True)
class Injected:
    """One fault that was handed to the proxy."""

    seq: int  # the proxy's request number
    method: str
    path: str
    kind: str  # reset | 500 | 502 | 503 | 429 | stall | truncate | flip
    offset: int | None = None  # for truncate and flip


@dataclass(frozen=True, slots=True)
class FlippedBlob:
    repo: str
    digest: str
    offset: int

    def damaged(self, original: bytes) -> bytes | None:
        """``original`` with the byte at ``offset`` inverted (None when out of range)."""
        if self.offset >= len(original):
            return None
        i = self.offset
        return original[:i] + bytes([original[i] ^ 0xFF]) + original[i + 1 :]


@dataclass
class FaultPlan:
    """A reproducible fault hook: ``proxy.fault = FaultPlan(seed)``."""

    seed: int
    rates: FaultRates = field(default_factory=FaultRates)
    methods: frozenset[str] | None = None  # only requests with these methods (None: all)
    path_contains: str = ""  # only requests whose path contains this
    max_faults: int | None = None  # stop injecting after this many
    enabled: bool = True
    injected: list[Injected] = field(default_factory=list)
    _seen: Counter[tuple[str, str]] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, req: ProxyRequest) -> Fault | None:
        path = _UPLOAD_ID.sub(r"\1*", req.path)
        with self._lock:
            key = (req.method, path)
            nth = self._seen[key]
            self._seen[key] += 1
            if not self._applies(req):
                return None
            if self.max_faults is not None and len(self.injected) >= self.max_faults:
                return None
            kind, fault, offset = self._draw(req.method, path, nth)
            if fault is not None:
                self.injected.append(Injected(req.seq, req.method, req.path, kind, offset))
            return fault

    def _applies(self, req: ProxyRequest) -> bool:
        if not self.enabled:
            return False
        if self.methods is not None and req.method not in self.methods:
            return False
        return self.path_contains in req.path

    def _draw(self, method: str, path: str, nth: int) -> tuple[str, Fault | None, int | None]:
        material = f"{self.seed}\0{method}\0{path}\0{nth}".encode()
        rng = random.Random(int.from_bytes(hashlib.sha256(material).digest()[:8], "big"))
        r = self.rates
        roll = rng.random()
        offset = rng.randrange(r.max_body_offset)
        for kind, rate in (
            ("reset", r.reset),
            ("5xx", r.server_error),
            ("429", r.rate_limited),
            ("stall", r.stall),
            ("truncate", r.truncate if method == "GET" else 0.0),
            ("flip", r.flip if method == "GET" else 0.0),
        ):
            if roll < rate:
                return self._make(kind, rng, offset)
            roll -= rate
        return "", None, None

    def _make(self, kind: str, rng: random.Random, offset: int) -> tuple[str, Fault, int | None]:
        match kind:
            case "reset":
                return kind, Fault.reset_connection(), None
            case "5xx":
                status = rng.choice((500, 502, 503))
                return str(status), Fault.status_code(status), None
            case "429":
                return kind, Fault.status_code(429, retry_after=rng.choice((0, 1))), None
            case "stall":
                return kind, Fault.delay(self.rates.stall_seconds), None
            case "truncate":
                return kind, Fault.truncate(offset), offset
            case _:
                return kind, Fault.flip_byte(offset), offset

    # -- reading back ----------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(Counter(i.kind for i in self.injected))

    @property
    def total(self) -> int:
        with self._lock:
            return len(self.injected)

    def flips(self) -> list[FlippedBlob]:
        """Blob GETs whose body had a byte flipped."""
        out = []
        with self._lock:
            for i in self.injected:
                m = _BLOB_PATH.match(i.path)
                if i.kind == "flip" and m and i.offset is not None:
                    out.append(FlippedBlob(m["repo"], m["digest"], i.offset))
        return out


# -- the oracle checks ---------------------------------------------------------------------
def _check_manifest(pusher: Pusher, repo: str, ref: str, problems: list[str]) -> None:
    got = pusher.get_manifest(repo, ref)
    if ref.startswith("sha256:") and got.body_digest != ref:
        problems.append(f"{repo}@{ref}: manifest hashes to {got.body_digest}")
        return
    doc = json.loads(got.data)
    media_type = doc.get("mediaType") or got.media_type
    if media_type in _INDEX_TYPES:
        for child in doc.get("manifests", []):
            if not pusher.head_manifest(repo, child["digest"]):
                problems.append(f"{repo}@{ref}: child manifest {child['digest']} missing")
                continue
            _check_manifest(pusher, repo, child["digest"], problems)
        return
    for desc in [doc.get("config"), *doc.get("layers", [])]:
        if not desc or desc.get("urls"):
            continue
        digest = desc["digest"]
        if not pusher.blob_exists(repo, digest):
            problems.append(f"{repo}@{ref}: blob {digest} missing")
            continue
        actual = sha256_digest(pusher.get_blob(repo, digest))
        if actual != digest:
            problems.append(f"{repo}@{ref}: blob {digest} hashes to {actual}")


def incomplete_tags(pusher: Pusher, repos: Iterable[str]) -> list[str]:
    """Every problem found under every tag of ``repos`` (empty: all tags are complete)."""
    problems: list[str] = []
    for repo in repos:
        for tag in pusher.list_tags(repo):
            _check_manifest(pusher, repo, tag, problems)
    return problems


def assert_tags_complete(pusher: Pusher, repos: Iterable[str]) -> int:
    """Fail if any tag points to missing or corrupt content; return the tags checked."""
    repos = list(repos)
    problems = incomplete_tags(pusher, repos)
    assert not problems, "tags point to incomplete content:\n" + "\n".join(problems)
    return sum(len(pusher.list_tags(r)) for r in repos)
