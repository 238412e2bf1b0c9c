"""``${file:PATH}`` in secret fields: mounted secrets (CI, Kubernetes) read at load time."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from imagegate.config.load import load_config
from imagegate.config.secrets import (
    MAX_SECRET_BYTES,
    SecretFileError,
    file_from_env,
    has_file_ref,
    placeholders_for_missing_files,
    read_secret_file,
)
from imagegate.domain.allowlist import Secret
from imagegate.errors import EXIT_CONFIG, ConfigError
from imagegate.run.validate import validate

HUB = """\
version: 1
target:
  registry: docker.io
  namespace: acme
  hub:
    username: olivia
    token: {token}
images:
  - source: grafana/loki
    tags: ["3.0.0"]
"""


def allowlist(tmp_path: Path, token: str) -> Path:
    path = tmp_path / "imagegate.yaml"
    path.write_text(textwrap.dedent(HUB.format(token=token)))
    return path


def secret_file(tmp_path: Path, content: bytes, name: str = "hub-token") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def load_error(path: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as exc:
        load_config(path, env=env or {})
    assert exc.value.exit_code == EXIT_CONFIG
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_token_from_an_absolute_file_strips_one_trailing_newline(tmp_path):
    f = secret_file(tmp_path, b"dckr_pat_abc\n\n")
    cfg = load_config(allowlist(tmp_path, f"${{file:{f}}}"), env={})
    assert cfg.target.hub is not None
    assert cfg.target.hub.token == Secret("dckr_pat_abc\n")
    assert cfg.warnings == ()  # not written in clear


def test_crlf_and_no_newline(tmp_path):
    assert read_secret_file(secret_file(tmp_path, b"s3cret\r\n")) == "s3cret"
    assert read_secret_file(secret_file(tmp_path, b"s3cret")) == "s3cret"


def test_relative_path_is_relative_to_the_allowlist_directory(tmp_path):
    (tmp_path / "secrets").mkdir()
    secret_file(tmp_path / "secrets", b"dckr_pat_rel\n")
    cfg = load_config(allowlist(tmp_path, "${file:secrets/hub-token}"), env={})
    assert cfg.target.hub is not None and cfg.target.hub.token == Secret("dckr_pat_rel")


def test_file_content_is_not_expanded_again(tmp_path):
    f = secret_file(tmp_path, b"a${HOME}b\n")
    cfg = load_config(allowlist(tmp_path, f'"pre-${{file:{f}}}"'), env={"HOME": "x"})
    assert cfg.target.hub is not None and cfg.target.hub.token == Secret("pre-a${HOME}b")


def test_literal_escape_is_not_a_file_reference():
    assert not has_file_ref("$${file:/x}")
    assert has_file_ref("${file:/x}")


def test_missing_file_names_file_line_key_and_path(tmp_path):
    path = allowlist(tmp_path, "${file:/nonexistent/hub-token}")
    message = load_error(path)
    assert message.startswith(f"{path}:7: target.hub.token: secret file /nonexistent/hub-token")
    assert "does not exist" in message


def test_unreadable_file(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    f = secret_file(tmp_path, b"x")
    f.chmod(0)
    message = load_error(allowlist(tmp_path, f"${{file:{f}}}"))
    assert ":7: target.hub.token: cannot read secret file" in message


def test_directory_fifo_and_empty_file_are_refused(tmp_path):
    assert "not a regular file" in load_error(allowlist(tmp_path, f"${{file:{tmp_path}}}"))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert "not a regular file" in load_error(allowlist(tmp_path, f"${{file:{fifo}}}"))
    empty = secret_file(tmp_path, b"\n", "empty")
    assert "is empty" in load_error(allowlist(tmp_path, f"${{file:{empty}}}"))


def test_size_cap_and_content_never_in_the_message(tmp_path):
    exact = secret_file(tmp_path, b"k" * MAX_SECRET_BYTES, "exact")
    assert len(read_secret_file(exact)) == MAX_SECRET_BYTES
    big = secret_file(tmp_path, b"TOPSECRET" + b"k" * MAX_SECRET_BYTES, "big")
    message = load_error(allowlist(tmp_path, f"${{file:{big}}}"))
    assert "larger than 64 KiB" in message
    assert "TOPSECRET" not in message


def test_not_utf8(tmp_path):
    f = secret_file(tmp_path, b"\xff\xfe")
    with pytest.raises(SecretFileError, match="not UTF-8"):
        read_secret_file(f)


def test_empty_path_and_file_reference_outside_a_secret_field(tmp_path):
    assert "needs a path" in load_error(allowlist(tmp_path, '"${file: }"'))
    path = tmp_path / "imagegate.yaml"
    path.write_text(HUB.format(token="x").replace("olivia", "${file:/run/user}"))
    assert "target.hub.username: ${file:PATH} is read only in secret fields" in load_error(path)


def test_registry_password_and_webhook_url_take_files(tmp_path):
    pw = secret_file(tmp_path, b"hunter2\n", "pw")
    url = secret_file(tmp_path, b"https://hooks.example.com/T0/B0/xyz\n", "url")
    path = tmp_path / "imagegate.yaml"
    path.write_text(
        "version: 1\n"
        "target: {registry: '127.0.0.1:5000', namespace: mirror}\n"
        "registries:\n"
        f"  '127.0.0.1:5000': {{username: u, password: '${{file:{pw}}}'}}\n"
        f"notify: {{webhooks: [{{url: '${{file:{url}}}'}}]}}\n"
        "images: [{source: bitnami/redis, tags: ['7.2']}]\n"
    )
    cfg = load_config(path, env={})
    entry = cfg.registry("127.0.0.1:5000")
    assert entry.password == Secret("hunter2")
    assert cfg.webhooks[0].url == Secret("https://hooks.example.com/T0/B0/xyz")


def test_validate_reads_a_missing_secret_file_as_a_placeholder(tmp_path):
    result = validate(allowlist(tmp_path, "${file:/run/secrets/absent}"), env={})
    assert result.ok
    assert result.notes == (
        "secret file /run/secrets/absent does not exist; checked with a placeholder",
    )


def test_placeholders_only_inside_the_context(tmp_path):
    path = allowlist(tmp_path, "${file:/run/secrets/absent}")
    with placeholders_for_missing_files() as missing:
        load_config(path, env={})
    assert missing == ["/run/secrets/absent"]
    load_error(path)


def test_env_variable_then_its_file_variant(tmp_path):
    f = secret_file(tmp_path, b"from-file\n")
    assert file_from_env({"X": "direct", "X_FILE": str(f)}, "X") == "direct"
    assert file_from_env({"X_FILE": str(f)}, "X") == "from-file"
    assert file_from_env({}, "X") is None
    with pytest.raises(ConfigError, match=r"^X_FILE: secret file /nope does not exist"):
        file_from_env({"X_FILE": "/nope"}, "X")
