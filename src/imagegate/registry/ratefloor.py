"""PURE: decide whether to pause docker.io pulls because few pulls remain.

§7 of ``reference/docker-hub-api.md``: ``ratelimit-remaining: 76;w=21600`` says how many
manifest GETs are left in a rolling window of ``w`` seconds; the headers are absent for
unlimited accounts. HEAD requests are free, so checking never spends a pull.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PullPause:
    seconds: float
    message: str


def pull_pause(
    *,
    remaining: int | None,
    window: float | None,
    floor: int,
    limit: int | None = None,
    host: str = "docker.io",
) -> PullPause | None:
    """How long to pause before pulling more, or None to carry on.

    With the limit known, a rolling window gives back ``limit / window`` pulls per second,
    so the pause is the time to regain enough pulls to be above the floor again; otherwise
    the whole window. Never longer than the window.
    """
    if remaining is None or floor <= 0 or remaining > floor:
        return None
    span = float(window) if window and window > 0 else 3600.0
    if limit and limit > 0:
        needed = floor - remaining + 1
        seconds = min(span, needed * span / limit)
    else:
        seconds = span
    of = f" of {limit}" if limit else ""
    return PullPause(
        seconds=seconds,
        message=(
            f"{host} pull rate limit: {remaining}{of} pulls left in a {_duration(span)} "
            f"window, at or below the floor of {floor}; pausing {_duration(seconds)} before "
            "pulling more (authenticate or raise the plan to get more pulls)"
        ),
    )


def _duration(seconds: float) -> str:
    s = round(seconds)
    hours, rest = divmod(s, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
