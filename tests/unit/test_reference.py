import pytest

from imagegate.domain.digest import Digest
from imagegate.domain.reference import parse_reference, parse_repository
from imagegate.errors import InvalidReferenceError

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest", "canonical"),
    [
        ("redis", "docker.io", "library/redis", "latest", None, "docker.io/library/redis:latest"),
        ("redis:7.2", "docker.io", "library/redis", "7.2", None, "docker.io/library/redis:7.2"),
        ("foo/bar", "docker.io", "foo/bar", "latest", None, "docker.io/foo/bar:latest"),
        ("docker.io/ubuntu", "docker.io", "library/ubuntu", "latest", None, None),
        ("index.docker.io/foo/bar", "docker.io", "foo/bar", "latest", None, None),
        ("registry-1.docker.io/foo/bar:1", "docker.io", "foo/bar", "1", None, None),
        ("host:5000/a/b:tag", "host:5000", "a/b", "tag", None, "host:5000/a/b:tag"),
        ("localhost/x", "localhost", "x", "latest", None, None),
        ("127.0.0.1:5000/x/y/z", "127.0.0.1:5000", "x/y/z", "latest", None, None),
        ("ghcr.io/x/y", "ghcr.io", "x/y", "latest", None, None),
        (f"name@{D}", "docker.io", "library/name", None, D, f"docker.io/library/name@{D}"),
        (f"name:tag@{D}", "docker.io", "library/name", "tag", D, f"docker.io/library/name:tag@{D}"),
        (
            "quay.io/prometheus/node-exporter:v1.8.2",
            "quay.io",
            "prometheus/node-exporter",
            "v1.8.2",
            None,
            None,
        ),
        ("a__b/c-d.e:x_Y.1-2", "docker.io", "a__b/c-d.e", "x_Y.1-2", None, None),
    ],
)
def test_parse_normalizes_like_docker(text, registry, repository, tag, digest, canonical):
    ref = parse_reference(text)
    assert ref.registry == registry
    assert ref.repository == repository
    assert ref.tag == tag
    assert (str(ref.digest) if ref.digest else None) == digest
    if canonical:
        assert str(ref) == canonical


def test_wire_host_and_familiar():
    ref = parse_reference("docker.io/library/redis:7")
    assert ref.wire_host == "registry-1.docker.io"
    assert ref.familiar == "redis:7"
    assert parse_reference("grafana/loki:3").familiar == "grafana/loki:3"
    assert parse_reference("ghcr.io/x/y:1").wire_host == "ghcr.io"
    assert parse_reference(f"x@{D}").identifier == D
    assert parse_reference("x:1").identifier == "1"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("docker.io/Foo/bar", "lowercase"),
        ("redis:", "empty tag"),
        ("redis@sha256:abc", "64"),
        ("redis@md5:" + "a" * 32, "unsupported algorithm"),
        ("", "empty"),
        (" redis", "spaces"),
        ("redis:-bad", "tag"),
        ("a//b", "repository"),
        ("a/b-", "repository"),
        ("host:5000/", "missing repository"),
        ("x" * 300, "longer than"),
    ],
)
def test_invalid_references_are_clear(text, fragment):
    with pytest.raises(InvalidReferenceError) as info:
        parse_reference(text)
    assert fragment in str(info.value)


def test_uppercase_host_is_a_registry():
    ref = parse_reference("Host/x")
    assert ref.registry == "Host"
    assert ref.repository == "x"


def test_parse_repository_rejects_tags():
    assert parse_repository("foo/bar").tag is None
    with pytest.raises(InvalidReferenceError):
        parse_repository("foo/bar:1")


def test_digest_roundtrip_and_verify():
    d = Digest.of(b"hello")
    assert Digest.parse(str(d)) == d
    v = d.hasher()
    v.update(b"hel")
    v.update(b"lo")
    assert v.matches()
    assert v.size == 5
