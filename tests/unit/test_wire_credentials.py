"""Where a registry's Authorization header may go (redirects: Docker Hub sends blobs to a CDN)."""

import pytest
from yarl import URL

from imagegate.registry.wire import may_carry_credentials, origin

REGISTRY = origin(URL("https://registry.example:443/v2/"))


@pytest.mark.parametrize(
    ("url", "plain_ok", "expected"),
    [
        ("https://registry.example/v2/x/blobs/sha256:a", False, True),
        ("https://cdn.example/blob?sig=1", False, False),  # another host: never
        ("https://registry.example:8443/v2/", False, False),  # another port: never
        ("http://registry.example:443/v2/", False, False),  # HTTPS -> HTTP downgrade: never
        ("http://registry.example:443/v2/", True, True),  # unless plain HTTP is allowed there
        ("https://cdn.example/blob", True, False),  # another host even then
    ],
)
def test_credentials_stay_with_the_registry(url, plain_ok, expected):
    assert may_carry_credentials(URL(url), REGISTRY, plain_http_allowed=plain_ok) is expected
