"""One human_bytes for the CLI and notifications."""

import pytest

from imagegate.domain.units import human_bytes


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (5 * 1024 * 1024, "5.0 MiB"),
        (3 * 1024**3 + 1024**3 // 2, "3.5 GiB"),
        (1024**5, "1.0 PiB"),
        (3 * 1024**5, "3.0 PiB"),  # notifications printed 3072.0 TiB before: one function now
        (1024**6, "1024.0 PiB"),
    ],
)
def test_human_bytes(n: int, text: str) -> None:
    assert human_bytes(n) == text
