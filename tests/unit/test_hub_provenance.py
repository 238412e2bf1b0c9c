"""Provenance descriptions: limits, content, determinism."""

from __future__ import annotations

from imagegate.hub.provenance import (
    MirroredTag,
    Provenance,
    full_description,
    short_description,
)

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def prov(**kw):
    base: dict[str, object] = {
        "source": "docker.io/bitnami/redis",
        "tags": (MirroredTag("7.2", D2), MirroredTag("7.0", D1)),
        "approved_at": "2026-11-01",
        "approved_by": "alice",
        "reason": "cache for the | web tier",
        "tool": "imagegate 0.1.0",
    }
    base.update(kw)
    return Provenance(**base)  # type: ignore[arg-type]


def test_short_description_names_the_upstream_and_fits():
    assert short_description(prov()) == "Vetted mirror of bitnami/redis"
    assert short_description(prov(source="docker.io/library/nginx")) == "Vetted mirror of nginx"
    long = short_description(prov(upstream_description="Redis " * 40))
    assert len(long) == 100 and long.endswith("…")
    assert short_description(prov(source="ghcr.io/x/y")) == "Vetted mirror of ghcr.io/x/y"


def test_full_description_carries_provenance():
    text = full_description(prov())
    assert "[`docker.io/bitnami/redis`](https://hub.docker.com/r/bitnami/redis)" in text
    assert "| Approved | 2026-11-01 by alice |" in text
    assert "| Reason | cache for the \\| web tier |" in text  # pipe escaped in the table
    assert "| Mirrored by | imagegate 0.1.0 |" in text
    # tags sorted, with their digests
    assert text.index("`7.0`") < text.index("`7.2`")
    assert f"| `7.0` | `{D1}` |" in text
    assert "Upstream overview" not in text


def test_full_description_is_deterministic_and_tag_order_free():
    a = full_description(prov())
    b = full_description(prov(tags=(MirroredTag("7.0", D1), MirroredTag("7.2", D2))))
    assert a == b


def test_official_link_and_no_tags_yet():
    text = full_description(prov(source="docker.io/library/nginx", tags=(), approved_by=None))
    assert "https://hub.docker.com/_/nginx" in text
    assert "No tag has been mirrored yet." in text
    assert "| Approved | 2026-11-01 |" in text


def test_overview_appended_and_truncated_to_hub_limit():
    text = full_description(prov(upstream_overview="# Redis\n\nfast"))
    assert text.endswith("## Upstream overview\n\n# Redis\n\nfast\n")
    huge = full_description(prov(upstream_overview="x" * 30000))
    assert len(huge) <= 25000
    assert "upstream overview truncated" in huge
    assert "| Mirrored by |" in huge  # provenance survives the cut
