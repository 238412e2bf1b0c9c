"""Deliver one payload to one webhook: timeout, 3 tries under the one retry policy
(:class:`imagegate.retry.RetryPolicy`: backoff with jitter, Retry-After honoured up to a cap).

Never raises for delivery problems (a notification must not break a run) and never puts the
URL in a log line or message: only its origin (scheme and host).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from imagegate.domain.allowlist import WebhookConfig
from imagegate.errors import RETRYABLE_STATUSES
from imagegate.retry import RetryPolicy, retry_after

log = logging.getLogger("imagegate.notify")

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    tries: int = 3
    timeout: float = 10.0  # seconds per attempt, connect included
    backoff: float = 1.0  # seconds; the 2nd try waits up to this long, doubling (full jitter)
    max_retry_after: float = 60.0  # a server asking for a longer wait is not retried

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.tries,
            base=self.backoff,
            cap=self.max_retry_after,
            retry_after_cap=self.max_retry_after,
        )


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    origin: str
    event: str
    delivered: bool
    attempts: int
    status: int | None = None  # the last HTTP status seen
    error: str = ""  # safe to log: no URL


def _describe(exc: BaseException, timeout: float) -> str:
    """A one-line reason that cannot contain the URL (aiohttp messages may)."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g}s"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect ({exc.os_error.strerror or type(exc.os_error).__name__})"
    return f"connection failed ({type(exc).__name__})"


async def _attempt(
    session: aiohttp.ClientSession, target: WebhookConfig, payload: dict[str, Any], timeout: float
) -> tuple[int, float | None]:
    async with session.post(
        target.url.reveal(),
        json=payload,
        allow_redirects=False,
        timeout=aiohttp.ClientTimeout(total=timeout),
        headers={"User-Agent": "imagegate-notify"},
    ) as resp:
        await resp.read()
        return resp.status, retry_after(resp.headers, time.time())


async def deliver(
    session: aiohttp.ClientSession,
    target: WebhookConfig,
    event: str,
    payload: dict[str, Any],
    *,
    policy: DeliveryPolicy = DeliveryPolicy(),
    sleep: Sleep = asyncio.sleep,
) -> DeliveryResult:
    """POST ``payload``; 2xx is success, 408/429/5xx and network errors are retried."""
    status: int | None = None
    error = ""
    attempts = 0
    retry = policy.retry
    for attempts in range(1, policy.tries + 1):
        asked: float | None = None
        try:
            status, asked = await _attempt(session, target, payload, policy.timeout)
        except (aiohttp.ClientError, TimeoutError) as exc:
            status, error = None, _describe(exc, policy.timeout)
        else:
            if 200 <= status < 300:
                return DeliveryResult(target.origin, event, True, attempts, status)
            error = f"HTTP {status}"
            if 300 <= status < 400:
                error += " (a redirect: configure the final webhook URL)"
            if status not in RETRYABLE_STATUSES:
                break
        wait = retry.delay(attempts, asked if status == 429 else None)
        if wait is None:
            break
        log.info(
            "webhook delivery will be retried",
            extra={
                "webhook": target.origin,
                "notify_event": event,
                "error": error,
                "wait": wait,
            },
        )
        await sleep(wait)
    log.warning(
        "webhook delivery failed; the run goes on",
        extra={
            "webhook": target.origin,
            "notify_event": event,
            "attempts": attempts,
            "error": error,
        },
    )
    return DeliveryResult(target.origin, event, False, attempts, status, error)
