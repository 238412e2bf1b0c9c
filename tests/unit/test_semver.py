import pytest

from imagegate.domain.semver import Version, parse_range, parse_version
from imagegate.errors import ConfigError


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("1.2.3", Version(1, 2, 3)),
        ("v1.2.3", Version(1, 2, 3)),
        ("7.2", Version(7, 2, 0)),
        ("7", Version(7, 0, 0)),
        ("1.2.3-rc.1", Version(1, 2, 3, ("rc", 1))),
        ("7.2.4-alpine", Version(7, 2, 4, ("alpine",))),
        ("1.2.3+build.5", Version(1, 2, 3)),
        ("latest", None),
        ("1.2.3.4", None),
        ("v", None),
        ("1..2", None),
        ("x1.2", None),
    ],
)
def test_parse_version(tag, expected):
    assert parse_version(tag) == expected


def test_version_order_follows_semver():
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.9.0",
        "1.10.0",
    ]
    versions = [v for v in map(parse_version, ordered) if v is not None]
    assert len(versions) == len(ordered)
    assert sorted(versions, key=lambda v: v.sort_key()) == versions
    assert Version(1, 9, 0) < Version(1, 10, 0)


IN, OUT = True, False


@pytest.mark.parametrize(
    ("rng", "version", "expected"),
    [
        (">=3.0", "3.0.0", IN),
        (">=3.0", "2.9.9", OUT),
        (">=3.0", "3.1.0-rc.1", OUT),  # pre-release not named by the range
        (">1.2", "1.2.9", OUT),
        (">1.2", "1.3.0", IN),
        (">1.2.3", "1.2.4", IN),
        ("<1.2", "1.1.9", IN),
        ("<1.2", "1.2.0", OUT),
        ("<1.2", "1.2.0-rc.1", OUT),
        ("<=1.2", "1.2.9", IN),
        ("<=1.2", "1.3.0", OUT),
        ("=1.2.3", "1.2.3", IN),
        ("1.2.3", "1.2.4", OUT),
        ("^1.2.3", "1.9.0", IN),
        ("^1.2.3", "2.0.0", OUT),
        ("^1.2.3", "1.2.2", OUT),
        ("^0.2.3", "0.2.9", IN),
        ("^0.2.3", "0.3.0", OUT),
        ("^0.0.3", "0.0.3", IN),
        ("^0.0.3", "0.0.4", OUT),
        ("^0.0", "0.0.9", IN),
        ("^0.0", "0.1.0", OUT),
        ("^1.2.x", "1.9.9", IN),
        ("^0.x", "0.9.0", IN),
        ("^0.x", "1.0.0", OUT),
        ("~1.2.3", "1.2.9", IN),
        ("~1.2.3", "1.3.0", OUT),
        ("~1", "1.9.0", IN),
        ("~1", "2.0.0", OUT),
        ("3.x", "3.99.1", IN),
        ("3.x", "4.0.0", OUT),
        ("3.*", "3.0.0", IN),
        ("3", "3.4.5", IN),
        ("1.2.x", "1.3.0", OUT),
        ("*", "0.0.1", IN),
        ("1.2.3 - 2.3.4", "2.3.4", IN),
        ("1.2.3 - 2.3.4", "2.3.5", OUT),
        ("1.2 - 2.3", "2.3.9", IN),
        ("1.2 - 2.3", "2.4.0", OUT),
        ("1.2 - 2.3", "1.1.9", OUT),
        (">=1.2.3 <2", "1.5.0", IN),
        (">=1.2.3 <2", "2.0.0", OUT),
        (">= 1.2.3 < 2", "1.5.0", IN),
        ("<1 || >=3", "0.5.0", IN),
        ("<1 || >=3", "2.0.0", OUT),
        ("<1 || >=3", "3.0.0", IN),
        # npm: a pre-release matches only when a comparator names one on the same x.y.z
        (">=1.2.3-beta.1", "1.2.3-beta.2", IN),
        (">=1.2.3-beta.1", "1.2.4-beta.1", OUT),
        (">=1.2.3-beta.1", "1.2.4", IN),
        ("^1.2.3-rc.1", "1.2.3-rc.2", IN),
        ("^1.2.3-rc.1", "2.0.0-rc.1", OUT),
    ],
)
def test_range_contains(rng, version, expected):
    v = parse_version(version)
    assert v is not None
    assert parse_range(rng).contains(v) is expected


def test_include_prerelease_accepts_suffixed_tags():
    r = parse_range(">=7")
    v = parse_version("7.2.4-alpine")
    assert v is not None
    assert not r.contains(v)
    assert r.contains(v, include_prerelease=True)


@pytest.mark.parametrize(
    ("rng", "why"),
    [
        (">=x", "needs a version number"),
        ("", "empty"),
        (">=1.2.3.4", "is not a version"),
        ("abc", "is not a version"),
        (">=1.2-rc.1", "pre-release needs a full version"),
        ("1.0 ||", "alternative is empty"),
        ("~>1.2", "is not a version"),
    ],
)
def test_invalid_ranges(rng, why):
    with pytest.raises(ConfigError) as err:
        parse_range(rng)
    assert f"invalid range {rng!r}" in str(err.value)
    assert why in str(err.value)
