"""BlobLocations: what a run knows about where blobs are and which uploads are under way."""

from __future__ import annotations

from imagegate.domain.digest import Digest
from imagegate.domain.reference import parse_reference
from imagegate.engine.locations import BlobLocations

DIGEST = Digest.parse("sha256:" + "ab" * 32)


def test_holds_names_only_the_repository_recorded():
    where = BlobLocations()
    a = parse_reference("reg.example/mirror/a:1")
    b = parse_reference("reg.example/mirror/b:1")
    assert not where.holds(DIGEST, a)
    where.add(DIGEST, a)
    assert where.holds(DIGEST, a.repo_only())
    assert where.holds(DIGEST, a.with_tag("2"))  # the tag does not matter
    assert not where.holds(DIGEST, b)


def test_in_flight_shows_a_claimed_upload_until_it_is_released():
    where = BlobLocations()
    a = parse_reference("reg.example/mirror/a")
    other = parse_reference("reg.example/mirror/b")
    assert where.in_flight(DIGEST, a) is None
    assert where.claim(DIGEST, a) is None  # the caller now uploads it
    held = where.in_flight(DIGEST, other)  # same registry: the upload is seen from b too
    assert held is not None and held.repo == a.repo_only()
    assert where.in_flight(DIGEST, parse_reference("elsewhere.example/mirror/a")) is None
    where.release(DIGEST, a)
    assert held.done.is_set()
    assert where.in_flight(DIGEST, a) is None
