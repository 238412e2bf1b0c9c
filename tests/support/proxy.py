"""A recording, fault-injecting reverse proxy in front of a registry (aiohttp, own thread).

::

    with RegistryProxy(registry.url) as proxy:        # proxy.url / proxy.host to use instead
        ...
        proxy.count("GET", "/blobs/")                 # requests seen (method, path substring)
        proxy.fault = lambda req: Fault.status_code(503, retry_after=1) if req.seq == 0 else None

Bodies stream through in chunks (large blobs are never buffered). The client's ``Host``
header is kept, so the registry writes ``Location`` URLs that point back at the proxy.
The hook ``fault(request) -> Fault | None`` runs for every request before it is forwarded:
answer with a status (and headers, e.g. ``Retry-After``), reset the connection, stall, or
forward and then truncate the body or flip one of its bytes; ``Fault.held(event)`` stalls a
request until the test sets the event.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import aiohttp
from aiohttp import web

from tests.support.bgserver import BackgroundServer, ServesInBackground

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)
_SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class ProxyRequest:
    """A request as the proxy saw it. Secret header values are replaced by ``***``
    (``Authorization`` keeps its scheme: ``Bearer ***``)."""

    seq: int  # 0 for the first request through this proxy
    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)


@dataclass(frozen=True, slots=True)
class Fault:
    """What to do to one request. Build with the class methods."""

    status: int | None = None  # answer with this status instead of forwarding
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    body: bytes = b""
    reset: bool = False  # close the connection without answering
    stall: float = 0.0  # wait this many seconds first (then apply the rest / forward)
    hold: threading.Event | None = None  # wait until the test sets this event, then go on
    truncate_at: int | None = None  # forward, but close after this many body bytes
    flip_at: int | None = None  # forward, with the body byte at this offset inverted

    @classmethod
    def status_code(
        cls,
        status: int,
        *,
        headers: Mapping[str, str] | None = None,
        retry_after: float | None = None,
        body: bytes | None = None,
    ) -> Fault:
        hdrs = dict(headers or {})
        if retry_after is not None:
            hdrs["Retry-After"] = f"{retry_after:g}"
        if body is None:
            code = {429: "TOOMANYREQUESTS", 503: "UNAVAILABLE"}.get(status, "UNKNOWN")
            doc = {"errors": [{"code": code, "message": "injected by test proxy"}]}
            body = json.dumps(doc).encode()
            hdrs.setdefault("Content-Type", "application/json")
        return cls(status=status, headers=MappingProxyType(hdrs), body=body)

    @classmethod
    def reset_connection(cls) -> Fault:
        return cls(reset=True)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        return cls(stall=seconds)

    @classmethod
    def held(cls, gate: threading.Event) -> Fault:
        """Stall until ``gate`` is set (a request in flight for as long as the test needs)."""
        return cls(hold=gate)

    @classmethod
    def truncate(cls, after_bytes: int) -> Fault:
        return cls(truncate_at=after_bytes)

    @classmethod
    def flip_byte(cls, offset: int = 0) -> Fault:
        return cls(flip_at=offset)


FaultHook = Callable[[ProxyRequest], Fault | None]


@dataclass(frozen=True, slots=True)
class ProxyRecord:
    """A finished exchange: the request, the status the client got (0 on reset), the fault."""

    request: ProxyRequest
    status: int
    fault: Fault | None


def _safe_headers(headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    out = []
    for k, v in headers.items():
        value = v
        if k.lower() in _SECRET_HEADERS:
            scheme = v.split(" ", 1)[0] if " " in v and k.lower() == "authorization" else ""
            value = f"{scheme} ***".strip()
        out.append((k, value))
    return tuple(out)


class RegistryProxy(ServesInBackground):
    def __init__(self, upstream_url: str, *, fault: FaultHook | None = None) -> None:
        self.upstream_url = upstream_url.rstrip("/")
        self.fault = fault
        self._requests: list[ProxyRequest] = []
        self._records: list[ProxyRecord] = []
        self._lock = threading.Lock()
        self._seq = itertools.count()
        self._session: aiohttp.ClientSession | None = None
        app = web.Application(client_max_size=0)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        app.on_cleanup.append(self._close_session)
        self._server = BackgroundServer(app)

    # -- public ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self._server.url

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def requests(self) -> list[ProxyRequest]:
        """Every request so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def records(self) -> list[ProxyRecord]:
        """Finished exchanges with the status the client saw."""
        with self._lock:
            return list(self._records)

    def count(self, method: str | None = None, path_contains: str = "") -> int:
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method.upper()) and path_contains in r.path
        )

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._records.clear()

    # -- internals -------------------------------------------------------------------------
    async def _close_session(self, _app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=120),
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
            )
        return self._session

    def _finish(self, req: ProxyRequest, status: int, fault: Fault | None) -> None:
        with self._lock:
            self._records.append(ProxyRecord(req, status, fault))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        req = ProxyRequest(
            seq=next(self._seq),
            method=request.method,
            path=request.path,
            query=request.query_string,
            headers=_safe_headers(request.headers),
        )
        with self._lock:
            self._requests.append(req)
        hook = self.fault
        fault = hook(req) if hook else None
        if fault and fault.stall:
            await asyncio.sleep(fault.stall)
        while fault and fault.hold is not None and not fault.hold.is_set():
            await asyncio.sleep(0.01)
        if fault and fault.reset:
            self._finish(req, 0, fault)
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # nothing more to send on a dead connection
        if fault and fault.status is not None:
            self._finish(req, fault.status, fault)
            return web.Response(status=fault.status, body=fault.body, headers=dict(fault.headers))
        return await self._forward(request, req, fault)

    async def _forward(
        self, request: web.Request, req: ProxyRequest, fault: Fault | None
    ) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["Host"] = request.host  # the registry builds Location URLs from it
        url = self.upstream_url + request.rel_url.raw_path_qs
        body = request.content if request.body_exists else None
        async with self._client().request(
            request.method, url, headers=headers, data=body, allow_redirects=False
        ) as upstream:
            resp = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for k, v in upstream.headers.items():
                if k.lower() not in _HOP_BY_HOP:
                    resp.headers.add(k, v)
            self._finish(req, upstream.status, fault)
            await resp.prepare(request)
            if request.method == "HEAD":
                await resp.write_eof()
                return resp
            offset = 0
            async for chunk in upstream.content.iter_chunked(_CHUNK):
                data = chunk
                if (
                    fault
                    and fault.flip_at is not None
                    and offset <= fault.flip_at < offset + len(data)
                ):
                    i = fault.flip_at - offset
                    data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :]
                if (
                    fault
                    and fault.truncate_at is not None
                    and offset + len(data) >= fault.truncate_at
                ):
                    await resp.write(data[: fault.truncate_at - offset])
                    if request.transport is not None:
                        request.transport.abort()
                    raise asyncio.CancelledError
                await resp.write(data)
                offset += len(data)
            await resp.write_eof()
            return resp
