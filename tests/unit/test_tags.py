from types import MappingProxyType

import pytest

from imagegate.domain.allowlist import TagRules
from imagegate.domain.digest import Digest
from imagegate.plan.tags import needs_listing, newest_first, select_tags

LOKI = [
    "latest",
    "main",
    "3.0.0",
    "3.0.1",
    "3.1.0",
    "3.1.1-rc.1",
    "3.2.0",
    "3.2.0-rc1",
    "2.9.8",
    "v3.3.0",
    "k123-abc",
    "3.2",
    "3",
]
D = Digest.parse("sha256:" + "b" * 64)


@pytest.mark.parametrize(
    ("rules", "available", "expected"),
    [
        # explicit tags are selected as written, without listing and even if absent upstream
        (TagRules(explicit=("7.2", "7.4")), [], ("7.2", "7.4")),
        (TagRules(explicit=("7.2",)), ["7.2", "7.4"], ("7.2",)),
        # include: re.search semantics, any pattern keeps
        (TagRules(include=(r"^3\.\d+\.\d+$",)), LOKI, ("3.2.0", "3.1.0", "3.0.1", "3.0.0")),
        (TagRules(include=("rc",)), LOKI, ("3.2.0-rc1", "3.1.1-rc.1")),
        (TagRules(include=("^latest$", "^main$")), LOKI, ("main", "latest")),
        # exclude: any match removes
        (
            TagRules(include=(r"^3\.",), exclude=("-rc", r"^3\.\d$")),
            LOKI,
            ("3.2.0", "3.1.0", "3.0.1", "3.0.0"),
        ),
        # semver: non-versions dropped, pre-releases excluded unless named, "v" accepted
        (
            TagRules(semver=">=3.0"),
            LOKI,
            ("v3.3.0", "3.2.0", "3.2", "3.1.0", "3.0.1", "3.0.0", "3"),
        ),
        (TagRules(semver="~3.1"), LOKI, ("3.1.0",)),
        (TagRules(semver="~3.1", prerelease=True), LOKI, ("3.1.1-rc.1", "3.1.0")),
        (TagRules(semver="<3"), LOKI, ("2.9.8",)),
        # newest N, combined with the rest
        (
            TagRules(include=(r"^v?3\.\d+\.\d+$",), exclude=("-rc",), semver=">=3.0", newest=3),
            LOKI,
            ("v3.3.0", "3.2.0", "3.1.0"),
        ),
        (TagRules(newest=2), LOKI, ("v3.3.0", "3.2.0")),
        # explicit tags come first and are always kept, and not counted in newest
        (TagRules(explicit=("latest",), semver="^3.1", newest=1), LOKI, ("latest", "v3.3.0")),
        (TagRules(explicit=("2.9.8",), include=("nomatch",)), LOKI, ("2.9.8",)),
        # pins are explicit tags
        (TagRules(explicit=("v1.8.2",), pins=MappingProxyType({"v1.8.2": D})), ["x"], ("v1.8.2",)),
        # non-version tags rank after versions, in natural order
        (
            TagRules(include=("^nightly-",), newest=2),
            ["nightly-9", "nightly-10", "nightly-8"],
            ("nightly-10", "nightly-9"),
        ),
        # duplicates in the tag list are ignored
        (TagRules(include=("^1",)), ["1.0", "1.0", "1.1"], ("1.1", "1.0")),
        (TagRules(semver=">=1"), [], ()),
    ],
)
def test_select_tags(rules, available, expected):
    assert select_tags(rules, available) == expected


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (TagRules(explicit=("a",)), False),
        (TagRules(explicit=("a",), pins=MappingProxyType({"a": D})), False),
        (TagRules(include=("x",)), True),
        (TagRules(exclude=("x",)), True),
        (TagRules(semver="*"), True),
        (TagRules(newest=1), True),
        (TagRules(explicit=("a",), newest=1), True),
    ],
)
def test_needs_listing(rules, expected):
    assert needs_listing(rules) is expected


def test_newest_first_ordering():
    tags = ["1.9", "1.10", "v1.10.0", "alpine", "1.10.0", "build-2", "build-10", "1.10.0-rc1"]
    assert newest_first(tags) == [
        "v1.10.0",
        "1.10.0",
        "1.10",
        "1.10.0-rc1",
        "1.9",
        "build-10",
        "build-2",
        "alpine",
    ]
