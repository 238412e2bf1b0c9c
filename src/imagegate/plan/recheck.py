"""PURE: which mirrored digests are due for a referrers re-check (signatures added upstream
after a digest was first mirrored).

A tag whose digest did not move costs no GET, so what refers to a digest is discovered when
it is first mirrored and then looked for again at most once per ``referrers_recheck``
interval, per mirrored source digest. The clock value is passed in (``now``); the times of
the last checks come from the state (``ImageState.referrers_checked``). A digest the state
has no check time for (mirrored before the schedule existed, or by another path) is only
*recorded* (``probe=False``): its first probe is one interval later, so an upgrade does not
turn the next run into a burst of GETs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from imagegate.domain.digest import Digest
from imagegate.plan.inputs import ImageDesired, ImageState
from imagegate.plan.model import ImageAction, RecheckReferrers, SkipTag


def due_rechecks(
    image: ImageDesired,
    st: ImageState,
    actions: Iterable[ImageAction],
    now: datetime,
) -> tuple[RecheckReferrers, ...]:
    """The re-checks of ``image`` this run: one per distinct mirrored digest of a tag the plan
    leaves in sync (``SkipTag``) whose last check is at least ``image.referrers_recheck`` ago
    (copies discover referrers themselves; other actions are not about a settled digest)."""
    every = image.referrers_recheck
    if every is None:
        return ()
    out: list[RecheckReferrers] = []
    seen: set[Digest] = set()
    for action in actions:
        if not isinstance(action, SkipTag) or action.image != image.key:
            continue
        rec = st.stored.get(action.tag)
        if rec is None or rec.source_digest != action.digest or rec.source_digest in seen:
            continue  # not mirrored by us (nothing known of its target digest), or done
        seen.add(rec.source_digest)
        last = st.referrers_checked.get(rec.source_digest)
        if last is not None and now - last < every:
            continue
        out.append(
            RecheckReferrers(
                image=image.key,
                tag=action.tag,
                source=image.source.with_digest(rec.source_digest),
                target=image.target.with_digest(rec.target_digest),
                digest=rec.source_digest,
                last_checked=last,
                probe=last is not None,
            )
        )
    return tuple(out)
