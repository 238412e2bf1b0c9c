"""Bounded time: the blob stall rule (RateCheck), request budgets, tag patterns on RE2."""

from __future__ import annotations

import time

import pytest

from imagegate.domain.allowlist import TagRules
from imagegate.plan.tags import MAX_TAG_LENGTH, PatternError, compile_pattern, select_tags
from imagegate.registry.limits import Budget, RateCheck, TransferLimits, stall_message

KIB = 1024


def test_one_byte_per_second_stalls_after_one_window():
    check = RateCheck(TransferLimits(window=30.0, min_bytes=KIB), now=0.0)
    for second in range(1, 30):
        assert check.add(1, now=float(second))
        assert not check.stalled(float(second))
    assert check.stalled(30.0)
    assert not check.add(1, now=30.5)  # arrived after the deadline: too late
    assert check.total == 29


def test_each_quota_met_moves_the_deadline():
    check = RateCheck(TransferLimits(window=10.0, min_bytes=100), now=0.0)
    assert check.add(100, now=9.0)
    assert check.deadline == 19.0
    assert check.add(60, now=18.0) and check.deadline == 19.0  # quota not met yet
    assert check.add(40, now=18.5) and check.deadline == 28.5
    assert check.remaining(20.0) == 8.5 and check.remaining(40.0) == 0.0


def test_a_burst_after_a_quiet_spell_inside_the_window_is_fine():
    check = RateCheck(TransferLimits(window=30.0, min_bytes=KIB), now=0.0)
    assert check.add(1024 * KIB, now=29.9)
    assert not check.stalled(59.0)


def test_consumer_time_is_not_counted():
    check = RateCheck(TransferLimits(window=5.0, min_bytes=100), now=0.0)
    check.pause(1.0)
    check.resume(101.0)  # the consumer held the chunk 100 s
    assert check.deadline == 105.0
    assert not check.stalled(104.0)
    check.resume(200.0)  # without a pause: no effect
    assert check.deadline == 105.0


def test_budget_spends_and_names_the_setting():
    budget = Budget(2.0, what="manifest r.io/a:1", host="auth.r.io", registry="r.io")
    budget.spend(1.5)
    assert not budget.exhausted and budget.remaining == 0.5
    budget.spend(1.0)
    assert budget.exhausted and budget.remaining == 0.0
    msg = budget.message()
    assert msg.startswith("manifest r.io/a:1: auth.r.io did not answer in full within 2 s")
    assert "registries.r.io.request_timeout" in msg


def test_stall_message_names_registry_object_and_limits():
    msg = stall_message("blob sha256:abc from r.io/a", "r.io", TransferLimits(30.0, 64 * KIB), 7)
    assert msg.startswith("blob sha256:abc from r.io/a: the transfer stalled")
    assert "less than 64 KiB in 30 s; 7 bytes moved" in msg and "registry r.io" in msg


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"^(v)\1$", "backreferences like \\1 are not supported"),
        (r"(?P<x>a)(?P=x)", "backreferences like (?P=name) are not supported"),
        (r"^(?=v)", "lookahead is not supported"),
        (r"^(?!rc)", "negative lookahead is not supported"),
        (r"(?<=v)1", "lookbehind is not supported"),
        (r"(?>a)", "atomic groups are not supported"),
        (r"a++", "possessive quantifiers"),
        (r"^1\Z", "write $ or \\z"),
        (r"a{5000}", "at most {1000}"),
    ],
)
def test_unsupported_syntax_says_what(pattern, why):
    with pytest.raises(PatternError) as info:
        compile_pattern(pattern)
    assert why in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("pattern", "tag", "found"),
    [
        (r"^\d+\.\d+$", "1.10", True),
        (r"alpine", "3.19-alpine", True),  # search, not fullmatch: as with Python's re
        (r"^alpine", "3.19-alpine", False),
        (r"(?i)^LATEST$", "latest", True),
        (r"^v?(?P<major>\d+)(\.\d+)*$", "v2.1.0", True),
        (r"^[a-f0-9]{7}$", "deadbee", True),
        (r"\bbeta\b", "1.0-beta", True),
    ],
)
def test_python_syntax_users_wrote_keeps_its_meaning(pattern, tag, found):
    assert (compile_pattern(pattern).search(tag) is not None) is found


def test_redos_pattern_is_linear():
    rules = TagRules(include=("^(a+)+$",))
    evil = ["a" * n + "b" for n in range(1, 120)]
    start = time.monotonic()
    picked = select_tags(rules, [*evil, "aaa"])
    assert picked == ("aaa",)
    assert time.monotonic() - start < 30  # a hang guard only: Python's re needs ~2**119 steps


def test_tags_over_the_oci_length_are_never_selected():
    rules = TagRules(include=("^x",))
    assert select_tags(rules, ["x" * MAX_TAG_LENGTH, "x" * (MAX_TAG_LENGTH + 1)]) == (
        "x" * MAX_TAG_LENGTH,
    )
