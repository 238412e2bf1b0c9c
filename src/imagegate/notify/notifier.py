"""Collect a run's events and send them: per-event batches, then ONE summary per run.

::

    notifier = Notifier(targets)
    async with notifier.run(run_id) as note:
        note.pending("nginx", tag="1.27", old_digest=..., new_digest=...)
        await note.flush()              # optional: send what is collected so far, now
        note.published("nginx", tag="1.26", target="acme/nginx", new_digest=...)
        note.count("in_sync", 41)
    # on exit: one message per event kind still unsent, then the summary

Nothing here raises for a delivery problem; ``on_delivery`` sees every result.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal

import aiohttp

from imagegate.domain.allowlist import WebhookConfig
from imagegate.domain.review import ReviewDetails
from imagegate.errors import ImagegateError
from imagegate.notify.delivery import DeliveryPolicy, DeliveryResult, Sleep, deliver
from imagegate.notify.message import Event, ItemKind, Message, NotifyItem
from imagegate.notify.payloads import build_payload

log = logging.getLogger("imagegate.notify")
_BATCHED: tuple[ItemKind, ...] = ("pending", "published", "failed")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Notifier:
    """Holds the webhook targets and delivery policy; ``run()`` starts one run's collection."""

    def __init__(
        self,
        targets: Sequence[WebhookConfig],
        *,
        policy: DeliveryPolicy = DeliveryPolicy(),  # noqa: B008 (frozen)
        on_delivery: Callable[[DeliveryResult], None] | None = None,
        clock: Callable[[], datetime] = _utc_now,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.targets = tuple(targets)
        self.policy = policy
        self.on_delivery = on_delivery
        self.clock = clock
        self.sleep = sleep

    def run(self, run_id: str | None = None) -> RunNotifications:
        return RunNotifications(self, run_id or uuid.uuid4().hex[:12])

    async def send(self, messages: Sequence[Message]) -> list[DeliveryResult]:
        """Deliver each message to every target subscribed to its event, concurrently."""
        jobs = [
            (target, message)
            for message in messages
            for target in self.targets
            if message.event in target.events
            and not (message.event == "summary" and target.quiet and not message.items)
        ]
        if not jobs:
            return []
        try:
            async with aiohttp.ClientSession() as session:
                results = await asyncio.gather(
                    *(
                        deliver(
                            session,
                            target,
                            message.event,
                            build_payload(message, target.format),
                            policy=self.policy,
                            sleep=self.sleep,
                        )
                        for target, message in jobs
                    )
                )
        except Exception:  # a bug here must not break the run either
            log.exception("notifications could not be sent")
            return []
        if self.on_delivery is not None:
            for result in results:
                self.on_delivery(result)
        return list(results)


class RunNotifications:
    """One run's events. Record with ``pending``/``published``/``failed``; exit sends."""

    def __init__(self, notifier: Notifier, run_id: str) -> None:
        self.notifier = notifier
        self.run_id = run_id
        self.items: list[NotifyItem] = []
        self.counts: dict[str, int] = {}
        self.results: list[DeliveryResult] = []
        self._sent = 0  # items[:_sent] went out in per-event batches
        self._finished = False

    def _add(
        self, kind: ItemKind, image: str | None, details: ReviewDetails | None = None,
        **fields: str | None,
    ) -> NotifyItem:  # fmt: skip
        item = NotifyItem(kind=kind, image=image, details=details, **fields)
        self.items.append(item)
        return item

    def pending(
        self,
        image: str,
        *,
        tag: str | None = None,
        target: str | None = None,
        old_digest: str | None = None,
        new_digest: str | None = None,
        message: str | None = None,
        details: ReviewDetails | None = None,
    ) -> NotifyItem:
        """A new change waiting for review (``review`` policy); ``details`` say what a
        reviewer needs to know (build time, platforms, size, layers changed, labels)."""
        return self._add(
            "pending", image, details, tag=tag, target=target, old_digest=old_digest,
            new_digest=new_digest, message=message,
        )  # fmt: skip

    def published(
        self,
        image: str,
        *,
        tag: str | None = None,
        target: str | None = None,
        old_digest: str | None = None,
        new_digest: str | None = None,
    ) -> NotifyItem:
        """An update mirrored to the target."""
        return self._add(
            "published", image, tag=tag, target=target, old_digest=old_digest,
            new_digest=new_digest,
        )  # fmt: skip

    def failed(
        self, message: str, *, image: str | None = None, tag: str | None = None,
        target: str | None = None,
    ) -> NotifyItem:  # fmt: skip
        """An image (or, with ``image=None``, the whole run) failed; ``message`` says why."""
        return self._add("failed", image, tag=tag, target=target, message=message)

    def count(self, name: str, value: int) -> None:
        """An extra number for the summary's ``counts`` (e.g. ``in_sync``, ``bytes_copied``)."""
        self.counts[name] = value

    def _counts(self) -> dict[str, int]:
        base = {kind: sum(1 for i in self.items if i.kind == kind) for kind in _BATCHED}
        return base | self.counts

    def _message(
        self,
        event: Event,
        items: Sequence[NotifyItem],
        result: Literal["success", "failure"] | None = None,
        note: str = "",
    ) -> Message:
        return Message(
            event=event,
            run_id=self.run_id,
            time=self.notifier.clock(),
            items=tuple(items),
            counts=self._counts(),
            result=result,
            note=note,
        )

    async def flush(self) -> list[DeliveryResult]:
        """Send the events recorded since the last flush: one message per event kind."""
        fresh = self.items[self._sent :]
        self._sent = len(self.items)
        messages = [
            self._message(kind, [i for i in fresh if i.kind == kind])
            for kind in _BATCHED
            if any(i.kind == kind for i in fresh)
        ]
        results = await self.notifier.send(messages)
        self.results.extend(results)
        return results

    async def finish(self, *, success: bool | None = None, note: str = "") -> list[DeliveryResult]:
        """Flush, then send the run's summary. ``success`` defaults to "nothing failed"."""
        if self._finished:
            return []
        self._finished = True
        results = await self.flush()
        ok = success if success is not None else not any(i.kind == "failed" for i in self.items)
        summary = self._message("summary", self.items, "success" if ok else "failure", note)
        summary_results = await self.notifier.send([summary])
        self.results.extend(summary_results)
        return results + summary_results

    async def __aenter__(self) -> RunNotifications:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            await self.finish()
        elif isinstance(exc, Exception):  # not on cancellation/interrupt: just leave
            why = (
                str(exc)
                if isinstance(exc, ImagegateError)
                else f"internal error: {type(exc).__name__}"
            )
            self.failed(f"the run failed: {why}")
            await self.finish(success=False)
