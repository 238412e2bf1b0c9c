"""A first real user's journeys through the CLI, against real registries on loopback.

Each test pins a rough edge found by using imagegate from its docs alone.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from imagegate.cli.main import main
from imagegate.errors import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK
from tests.support.images import ImageFactory
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def write_config(tmp_path: Path, source: RegistryServer, target: RegistryServer, body: str) -> str:
    cfg = tmp_path / "imagegate.yaml"
    head = f"""\
        version: 1
        target:
          registry: {target.host}
          namespace: acme
        state: {tmp_path / "state.db"}
        images:
        """
    cfg.write_text(textwrap.dedent(head) + textwrap.dedent(body).replace("SRC", source.host))
    return str(cfg)


def test_rollback_history_and_status_by_target_short_name(
    source_registry: RegistryServer,
    target_registry: RegistryServer,
    tmp_path: Path,
    image_factory: ImageFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`imagegate rollback redis:7.4` when bitnami/redis is mirrored to acme/redis."""
    up = Pusher(source_registry.url)
    old = image_factory.multiarch()
    up.push_image("bitnami/redis", "7.4", old)
    cfg = write_config(
        tmp_path,
        source_registry,
        target_registry,
        """\
        - source: SRC/bitnami/redis
          tags: ["7.4"]
        - source: SRC/grafana/loki
          target: logs
          tags: ["3.0"]
        """,
    )
    up.push_image("grafana/loki", "3.0", image_factory.image())
    assert cli(capsys, "sync", "-c", cfg)[0] == EXIT_OK
    new = image_factory.multiarch()
    up.push_image("bitnami/redis", "7.4", new)
    assert cli(capsys, "sync", "-c", cfg, "redis")[0] == EXIT_OK  # a short name as filter

    code, out, err = cli(capsys, "rollback", "redis:7.4", "-c", cfg, "--output", "json")
    assert code == EXIT_OK, err
    result: dict[str, Any] = json.loads(out)
    assert result["restored"] == old.digest and result["replaced"] == new.digest
    Pusher(target_registry.url).assert_image("acme/redis", "7.4", old)

    code, out, err = cli(capsys, "history", "redis:7.4", "-c", cfg, "--output", "json")
    assert code == EXIT_OK, err
    kinds = [e["kind"] for e in json.loads(out)]
    assert "rolled_back" in kinds and "updated" in kinds and "copied" in kinds
    assert all(e["image"].endswith("/acme/redis") for e in json.loads(out))

    code, out, err = cli(capsys, "status", "logs", "-c", cfg, "--output", "json")
    assert code == EXIT_OK, err
    assert [t["tag"] for t in json.loads(out)["tags"]] == ["3.0"]

    code, _, err = cli(capsys, "rollback", "nope:7.4", "-c", cfg)
    assert code == EXIT_CONFIG
    assert "'nope' is not in" in err and err.count("\n") == 1


def test_missing_tag_names_the_source_and_what_to_do(
    source_registry: RegistryServer,
    target_registry: RegistryServer,
    tmp_path: Path,
    image_factory: ImageFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    Pusher(source_registry.url).push_image("library/hello", "1", image_factory.image())
    cfg = write_config(
        tmp_path,
        source_registry,
        target_registry,
        """\
        - source: SRC/library/hello
          tags: ["1", "1.0-typo"]
        """,
    )
    code, out, err = cli(capsys, "sync", "-c", cfg, "--output", "json")
    assert code == EXIT_FAILURE, err
    summary = json.loads(out)
    assert summary["copied"] == 1
    (failure,) = summary["failures"]
    assert failure["tag"] == "1.0-typo"
    assert f"not found upstream in {source_registry.host}/library/hello" in failure["error"]
    assert "check the tag" in failure["error"]
