"""The pieces most end-to-end tests build their "world" from.

::

    images = push_tags(Pusher(source_registry.url), {"bitnami/redis": ["7.2", "7.4"]},
                       image_factory.multiarch)           # (repo, tag) -> BuiltImage
    cfg = write_allowlist(tmp_path / "imagegate.yaml", target=target_registry.host, images=f'''
        - source: {source_registry.host}/bitnami/redis
          tags: ["7.2", "7.4"]
    ''')                                                   # state.db next to the file
    code, out, err = cli(capsys, "sync", "-c", str(cfg))  # in-process, never a traceback
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest

from imagegate.cli.main import main
from tests.support.images import BuiltImage
from tests.support.pusher import Pusher

ImageT = TypeVar("ImageT", bound=BuiltImage)


def push_tags(
    pusher: Pusher, repos: Mapping[str, Iterable[str]], make: Callable[[], ImageT]
) -> dict[tuple[str, str], ImageT]:
    """Push a new image from ``make()`` to every tag of every repository, in order."""
    images: dict[tuple[str, str], ImageT] = {}
    for repo, tags in repos.items():
        for tag in tags:
            images[(repo, tag)] = image = make()
            pusher.push_image(repo, tag, image)
    return images


def write_allowlist(
    path: Path, *, target: str, images: str, namespace: str = "acme", extra: str = ""
) -> Path:
    """An allowlist at ``path`` mirroring into ``target``/``namespace``, its state database
    next to it. ``extra`` is top-level YAML put before ``images:``; ``images`` is the YAML of
    the list items at any indentation."""
    items = textwrap.indent(textwrap.dedent(images).strip("\n"), "  ")
    path.write_text(
        f"version: 1\ntarget:\n  registry: {target}\n  namespace: {namespace}\n"
        f"state: {path.parent / 'state.db'}\n{extra}images:\n{items}\n"
    )
    return path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``imagegate ARGS`` in-process: (exit code, stdout, stderr); never a traceback."""
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return code, out, err


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    """:func:`cli` with ``--output json``: (exit code, the parsed document or None, stderr)."""
    code, out, err = cli(capsys, *args, "--output", "json")
    return code, (json.loads(out) if out.strip() else None), err
