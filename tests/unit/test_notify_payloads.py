import json
from datetime import UTC, datetime

import pytest

from imagegate.domain.allowlist import Secret, WebhookConfig, WebhookFormat, url_origin
from imagegate.domain.review import ReviewDetails
from imagegate.notify.details import details_summary
from imagegate.notify.message import Message, NotifyItem
from imagegate.notify.payloads import (
    MAX_JSON_ITEMS,
    MAX_SLACK_LINES,
    SCHEMA,
    build_payload,
    json_payload,
    slack_payload,
    title,
)

T = datetime(2024, 3, 10, 10, 0, tzinfo=UTC)
OLD = "sha256:" + "a" * 64
NEW = "sha256:" + "b" * 64
SLACK_URL = "https://hooks.slack.com/services/T0000/B0000/SECRETtoken123"


def message(event, items, **kw):
    counts = kw.pop("counts", {"pending": 1, "published": 0, "failed": 0})
    return Message(event=event, run_id="r1", time=T, items=tuple(items), counts=counts, **kw)


PENDING = NotifyItem(
    "pending", image="nginx", tag="1.27", target="acme/nginx", old_digest=OLD, new_digest=NEW
)
PUBLISHED = NotifyItem("published", image="redis", tag="7.2", target="acme/redis", new_digest=NEW)
FAILED = NotifyItem("failed", image="ghcr.io/x/y", tag="1", message="HTTP 500 <from> registry & co")
RUN_FAILED = NotifyItem("failed", message="the run failed: state database is locked")


def test_json_payload_schema():
    doc = json_payload(message("pending", [PENDING]))
    assert doc == {
        "schema": SCHEMA,
        "event": "pending",
        "run_id": "r1",
        "time": "2024-03-10T10:00:00Z",
        "result": None,
        "text": "imagegate: 1 change waiting for review",
        "note": None,
        "counts": {"pending": 1, "published": 0, "failed": 0},
        "items": [
            {
                "kind": "pending",
                "image": "nginx",
                "tag": "1.27",
                "target": "acme/nginx",
                "old_digest": OLD,
                "new_digest": NEW,
                "message": None,
                "details": None,
            }
        ],
        "items_truncated": 0,
    }
    json.dumps(doc)  # serializable as is


@pytest.mark.parametrize(
    ("event", "items", "kw", "expected"),
    [
        ("pending", [PENDING, PENDING], {}, "imagegate: 2 changes waiting for review"),
        ("published", [PUBLISHED], {}, "imagegate: 1 update published"),
        ("failed", [FAILED, RUN_FAILED], {}, "imagegate: 2 failures in run r1"),
        (
            "summary",
            [PUBLISHED],
            {"result": "success", "counts": {"published": 1, "in_sync": 40}},
            "imagegate run r1 succeeded: 1 published, 40 in sync",
        ),
        (
            "summary",
            [RUN_FAILED],
            {"result": "failure", "counts": {}},
            "imagegate run r1 FAILED",
        ),
    ],
)
def test_titles(event, items, kw, expected):
    assert title(message(event, items, **kw)) == expected


def test_slack_payload_has_text_and_blocks_and_escapes():
    doc = slack_payload(message("failed", [FAILED, RUN_FAILED, PENDING]))
    assert doc["text"] == "imagegate: 3 failures in run r1"
    header, section, context = doc["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "imagegate: 3 failures in run r1"},
    }
    lines = section["text"]["text"].splitlines()
    assert section["text"]["type"] == "mrkdwn"
    assert lines[0] == "• *failed* `ghcr.io/x/y:1`: HTTP 500 &lt;from&gt; registry &amp; co"
    assert lines[1] == "• *failed* `run`: the run failed: state database is locked"
    assert lines[2] == (
        "• *pending* `nginx:1.27` → `acme/nginx` `sha256:aaaaaaaaaaaa` ⇒ `sha256:bbbbbbbbbbbb`"
    )
    assert context["type"] == "context"
    assert "run `r1`" in context["elements"][0]["text"]


def test_slack_pending_context_tells_reviewers_what_to_do():
    context = slack_payload(message("pending", [PENDING]))["blocks"][-1]
    assert "imagegate approve" in context["elements"][0]["text"]


def test_long_lists_are_truncated_in_both_formats():
    items = [PUBLISHED] * (MAX_JSON_ITEMS + 5)
    doc = json_payload(message("published", items))
    assert len(doc["items"]) == MAX_JSON_ITEMS
    assert doc["items_truncated"] == 5
    assert doc["text"] == f"imagegate: {MAX_JSON_ITEMS + 5} updates published"
    slack = slack_payload(message("published", items))
    lines = slack["blocks"][1]["text"]["text"].splitlines()
    assert len(lines) == MAX_SLACK_LINES + 1
    assert lines[-1] == f"…and {MAX_JSON_ITEMS + 5 - MAX_SLACK_LINES} more"
    assert len(slack["blocks"][1]["text"]["text"]) <= 3000


def test_empty_summary_has_no_item_section():
    doc = slack_payload(message("summary", [], result="success", counts={}))
    assert [b["type"] for b in doc["blocks"]] == ["header", "context"]


def test_build_payload_picks_the_format():
    m = message("published", [PUBLISHED])
    assert "blocks" in build_payload(m, WebhookFormat.SLACK)
    assert build_payload(m, WebhookFormat.JSON)["schema"] == SCHEMA


def test_webhook_target_hides_its_url():
    target = WebhookConfig(Secret(SLACK_URL), format=WebhookFormat.SLACK)
    assert "SECRET" not in repr(target)
    assert target.origin == "https://hooks.slack.com"
    assert target.events == frozenset({"pending", "published", "failed", "summary"})


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://user:pw@hooks.example.com:8443/x?token=1", "https://hooks.example.com:8443"),
        ("http://[::1]:9000/hook", "http://[::1]:9000"),
        ("http://127.0.0.1/hook/secret", "http://127.0.0.1"),
    ],
)
def test_url_origin(url, origin):
    assert url_origin(url) == origin


def test_counts_default_in_titles_use_spaces():
    m = message("summary", [], result="success", counts={"bytes_copied": 5})
    assert title(m).endswith(": 5 bytes copied")


# What `imagegate pending` stores for a change (imagegate.domain.review.ReviewDetails.as_json).
STORED = {
    "platforms": ["linux/amd64", "linux/arm64", "linux/s390x"],
    "platform": "linux/amd64",
    "created": "2026-11-20T08:15:00Z",
    "size": 43_200_000,
    "size_complete": True,
    "layers": 5,
    "layers_changed": 2,
    "labels": {
        "org.opencontainers.image.version": "7.4.1",
        "org.opencontainers.image.revision": "abc123def4567890",
        "org.opencontainers.image.source": "https://github.com/x/y",
        "org.opencontainers.image.title": "not shown in a notification",
    },
}
DETAILED = NotifyItem(
    "pending",
    image="nginx",
    tag="1.27",
    target="acme/nginx",
    old_digest=OLD,
    new_digest=NEW,
    details=ReviewDetails.from_json(STORED),
)


def test_json_pending_item_carries_compact_details():
    [item] = json_payload(message("pending", [DETAILED]))["items"]
    assert item["details"] == {
        "created": "2026-11-20T08:15:00Z",
        "platforms": ["linux/amd64", "linux/arm64", "linux/s390x"],
        "size": 43_200_000,
        "size_complete": True,
        "layers": 5,
        "layers_changed": 2,
        "labels": {
            "version": "7.4.1",
            "revision": "abc123def4567890",
            "source": "https://github.com/x/y",
        },
    }
    json.dumps(item)


def test_slack_pending_item_has_one_short_details_line():
    section = slack_payload(message("pending", [DETAILED]))["blocks"][1]
    head, details = section["text"]["text"].splitlines()
    assert head.startswith("• *pending* `nginx:1.27`")
    assert details == (
        "    _built 2026-11-20, 3 platforms, 41.2 MiB, 2 of 5 layers changed, "
        "version 7.4.1, revision abc123def456_"
    )


@pytest.mark.parametrize(
    ("stored", "line"),
    [
        # a new tag: no old digest, so no "changed" count; one platform is named
        (
            {"platforms": ["linux/amd64"], "size": 1536, "layers": 1, "layers_changed": None},
            "linux/amd64, 1.5 KiB, 1 layer",
        ),
        # more than MAX_PLATFORMS platforms: the size is a lower bound
        (
            {"size": 2048, "size_complete": False, "layers": 3, "layers_changed": 0},
            "2.0 KiB+, 0 of 3 layers changed",
        ),
        # inspection failed half way: say so; odd JSON values are left out, not guessed
        (
            {"size": "big", "layers": True, "labels": ["x"], "inspect_error": "HTTP 500"},
            "details incomplete",
        ),
        ({}, ""),
    ],
)
def test_details_summary(stored, line):
    assert details_summary(ReviewDetails.from_json(stored)) == line


def test_slack_details_are_escaped_and_skipped_when_empty():
    odd = ReviewDetails.from_json({"labels": {"org.opencontainers.image.version": "<1&2>"}})
    item = NotifyItem("pending", image="a", tag="1", new_digest=NEW, details=odd)
    text = slack_payload(message("pending", [item]))["blocks"][1]["text"]["text"]
    assert text.splitlines()[1] == "    _version &lt;1&amp;2&gt;_"
    bare = NotifyItem("pending", image="a", tag="1", new_digest=NEW, details=ReviewDetails())
    text = slack_payload(message("pending", [bare]))["blocks"][1]["text"]["text"]
    assert text == "• *pending* `a:1` new tag `sha256:bbbbbbbbbbbb`"


def test_slack_published_update_shows_old_and_new_digest():
    updated = NotifyItem(
        "published", image="redis", tag="7.2", target="acme/redis", old_digest=OLD, new_digest=NEW
    )
    text = slack_payload(message("published", [updated, PUBLISHED]))["blocks"][1]["text"]["text"]
    assert text.splitlines() == [
        "• *published* `redis:7.2` → `acme/redis` `sha256:aaaaaaaaaaaa` ⇒ `sha256:bbbbbbbbbbbb`",
        "• *published* `redis:7.2` → `acme/redis` `sha256:bbbbbbbbbbbb`",  # a new tag
    ]
    [json_item, _] = json_payload(message("published", [updated, PUBLISHED]))["items"]
    assert (json_item["old_digest"], json_item["new_digest"]) == (OLD, NEW)
