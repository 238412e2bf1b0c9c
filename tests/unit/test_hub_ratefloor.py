"""The docker.io pull floor: when to pause and for how long."""

from __future__ import annotations

import pytest

from imagegate.registry.ratefloor import PullPause, pull_pause


@pytest.mark.parametrize(
    ("kwargs", "seconds"),
    [
        ({"remaining": None, "window": 21600, "floor": 10}, None),  # unlimited: no headers
        ({"remaining": 50, "window": 21600, "floor": 10}, None),
        ({"remaining": 11, "window": 21600, "floor": 10}, None),
        ({"remaining": 5, "window": 21600, "floor": 0}, None),  # floor off
        ({"remaining": 10, "window": 21600, "floor": 10, "limit": 100}, 216.0),
        ({"remaining": 0, "window": 21600, "floor": 10, "limit": 100}, 2376.0),
        ({"remaining": 0, "window": 3600, "floor": 500, "limit": 100}, 3600.0),  # capped
        ({"remaining": 3, "window": 3600, "floor": 10}, 3600.0),  # limit unknown: a window
        ({"remaining": 3, "window": None, "floor": 10}, 3600.0),
    ],
)
def test_pull_pause(kwargs, seconds):
    pause = pull_pause(**kwargs)
    if seconds is None:
        assert pause is None
    else:
        assert isinstance(pause, PullPause)
        assert pause.seconds == pytest.approx(seconds)


def test_pull_pause_message_says_why_and_how_long():
    pause = pull_pause(remaining=4, window=21600, floor=10, limit=100)
    assert pause is not None
    assert pause.message.startswith(
        "docker.io pull rate limit: 4 of 100 pulls left in a 6h00m window, at or below the "
        "floor of 10; pausing 25m12s"
    )
