"""How long and how often one registry request may try: the network-time budget of each
attempt (:class:`imagegate.registry.limits.Budget`) and the retry loop (the one retry policy,
:class:`imagegate.retry.RetryPolicy`), with the body reads and error responses they bound.
Used by :mod:`imagegate.registry.transport` only."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import TypeVar

import aiohttp

from imagegate.errors import RegistryError, RegistryResponseError, RegistryTransportError
from imagegate.registry.diagnostics import MAX_ERROR_BODY, response_error
from imagegate.registry.limits import Budget
from imagegate.registry.settings import RegistrySettings, canonical_registry
from imagegate.registry.stats import RequestStats
from imagegate.registry.wire import Request
from imagegate.retry import RetryPolicy

log = logging.getLogger("imagegate.registry.transport")
T = TypeVar("T")

# The budget of the request being sent in this task (None: unbounded, e.g. a blob upload).
_BUDGET: ContextVar[Budget | None] = ContextVar("imagegate_request_budget", default=None)
# True inside a replayable request's retry loop: nested requests (tokens) are not retried.
_RETRYING: ContextVar[bool] = ContextVar("imagegate_retrying", default=False)


@asynccontextmanager
async def within_budget() -> AsyncIterator[None]:
    """Spend the current request's budget on the block; out of budget -> a clear error."""
    budget = _BUDGET.get()
    if budget is None:
        yield
        return
    if budget.exhausted:
        raise RegistryTransportError(budget.message())
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        async with asyncio.timeout(budget.remaining) as limit:
            yield
    except TimeoutError:
        if limit.expired():
            raise RegistryTransportError(budget.message()) from None
        raise
    finally:
        budget.spend(loop.time() - start)


@contextmanager
def request_budget(settings: RegistrySettings, req: Request) -> Iterator[None]:
    """A fresh budget for one attempt of ``req`` (none for a streamed body). A request
    made inside another (a token exchange) is bounded by the outer registry's setting."""
    outer = _BUDGET.get()
    registry = outer.registry if outer is not None else canonical_registry(req.host)
    budget = None
    if not isinstance(req.body, AsyncIterable):
        seconds = settings.for_host(registry).request_timeout
        budget = Budget(seconds, what=req.what or req.method, host=req.host, registry=registry)
    token = _BUDGET.set(budget)
    try:
        yield
    finally:
        _BUDGET.reset(token)


async def retrying(policy: RetryPolicy, req: Request, op: Callable[[], Awaitable[T]]) -> T:
    """``op()``, retried under ``policy`` when ``req`` is replayable and the error temporary;
    a request made inside a retried one (a token exchange) is not retried on its own."""
    if _RETRYING.get():
        return await op()  # the outer request retries as a whole
    flag = _RETRYING.set(req.replayable)
    try:
        return await _retry_loop(policy, req, op)
    finally:
        _RETRYING.reset(flag)


async def _retry_loop(policy: RetryPolicy, req: Request, op: Callable[[], Awaitable[T]]) -> T:
    attempt = 1
    while True:
        try:
            return await op()
        except (RegistryTransportError, RegistryResponseError) as exc:
            if not (exc.temporary and req.replayable):
                raise
            retry_after = exc.retry_after if isinstance(exc, RegistryResponseError) else None
            delay = policy.delay(attempt, retry_after)
            if delay is None:
                raise
            log.debug(
                "retrying",
                extra={"what": req.what, "attempt": attempt, "delay": round(delay, 2)},
            )
            await asyncio.sleep(delay)
            attempt += 1


async def read_capped(resp: aiohttp.ClientResponse, limit: int, stats: RequestStats) -> bytes:
    """Read the body until EOF or ``limit`` bytes, whichever comes first (within budget)."""
    parts: list[bytes] = []
    total = 0
    try:
        async with within_budget():
            while total < limit:
                piece = await resp.content.read(limit - total)
                if not piece:
                    break
                parts.append(piece)
                total += len(piece)
    finally:
        stats.bytes_in += total
    return b"".join(parts)


async def error_for(
    req: Request, resp: aiohttp.ClientResponse, stats: RequestStats
) -> RegistryError:
    """The typed error of an error response (its body read, bounded, then released)."""
    try:
        body = await read_capped(resp, MAX_ERROR_BODY, stats)
    except (aiohttp.ClientError, TimeoutError, OSError):
        body = b""
    finally:
        resp.release()
    return response_error(
        status=resp.status,
        method=req.method,
        url=str(resp.url),
        body=body,
        headers=resp.headers,
        what=req.what or f"{req.method} {req.target}",
    )
