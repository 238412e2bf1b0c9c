"""What a run's webhooks say: a finished run's news (pending, published, failed, a summary),
or that the run failed. Used by `sync` and `watch`; never raises for delivery."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from imagegate.domain.allowlist import Config

# The webhook modules are imported when the allowlist has webhooks (`notify:`): a sync
# without them does not pay for them (start-up, docs/benchmarks.md).
if TYPE_CHECKING:
    from imagegate.notify.delivery import DeliveryResult
    from imagegate.notify.notifier import RunNotifications
    from imagegate.run.sync import RunReport

OnDelivery = Callable[["DeliveryResult"], None]


def record_notifications(note: RunNotifications, report: RunReport) -> None:
    """Put a finished run's news into ``note`` (one batch per kind, one summary, on finish)."""
    out = report.outcome
    source = {key: entry.source_text for key, entry in report.entries.items()}
    for change in out.pending:
        note.pending(
            source.get(change.target_repo, change.source_repo),
            tag=change.tag,
            target=change.target_repo,
            old_digest=str(change.old_digest) if change.old_digest else None,
            new_digest=str(change.new_digest),
            details=change.details,
        )
    published = [(i, t, d, None) for i, t, d in out.copied] + list(out.updated)
    for image, tag, digest, old in published:
        note.published(
            source.get(image, image),
            tag=tag,
            target=image,
            old_digest=str(old) if old else None,
            new_digest=str(digest),
        )
    for failure in out.failures:
        note.failed(
            failure.message,
            image=source.get(failure.image, failure.image),
            tag=failure.tag,
            target=failure.image,
        )
    note.count("in_sync", out.skipped)
    note.count("bytes_copied", out.bytes_copied)


async def notify_report(
    config: Config, report: RunReport, *, on_delivery: OnDelivery | None = None
) -> None:
    """Send the webhooks of ``config`` what ``report`` says. Never raises for delivery."""
    targets = config.webhooks
    if not targets:
        return
    from imagegate.notify.notifier import Notifier  # noqa: PLC0415

    async with Notifier(targets, on_delivery=on_delivery).run(str(report.run_id)) as note:
        record_notifications(note, report)


async def notify_failure(
    config: Config, message: str, on_delivery: OnDelivery | None, run_id: int | None = None
) -> None:
    targets = config.webhooks
    if targets:
        from imagegate.notify.notifier import Notifier  # noqa: PLC0415

        note = Notifier(targets, on_delivery=on_delivery).run(str(run_id) if run_id else None)
        note.failed(f"the run failed: {message}")
        await note.finish(success=False)
