"""``imagegate validate``: the allowlist and its lock file, offline (exit 0 or 3)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from imagegate.cli.common import add_config_options, config_path
from imagegate.cli.render import print_json
from imagegate.errors import EXIT_CONFIG, EXIT_OK, ConfigError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "validate",
        help="check the allowlist and its lock file offline (no network, no credentials)",
        description="Check the allowlist (schema, references, tag rules) and its lock file "
        "(syntax, and that every decision names an image of the allowlist under a policy it "
        "applies to). Nothing is contacted and no state is read: for the check a pull "
        "request from a fork runs. Exit 0 when valid, 3 when not.",
    )
    add_config_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from imagegate.run.validate import validate

    path = config_path(args)
    try:
        result = validate(path)
    except ConfigError as exc:
        if args.output != "json":
            raise
        print_json({"valid": False, "problems": [str(exc)], "notes": []})
        return EXIT_CONFIG
    if args.output == "json":
        print_json(
            {
                "valid": result.ok,
                "images": len(result.config.images),
                "decisions": len(result.decisions) if result.decisions is not None else 0,
                "problems": list(result.problems),
                "notes": list(result.notes) + list(result.config.warnings),
            }
        )
        return EXIT_OK if result.ok else EXIT_CONFIG
    for warning in result.config.warnings:
        print(f"imagegate: warning: {warning}", file=sys.stderr)
    for note in result.notes:
        print(f"imagegate: note: {note}", file=sys.stderr)
    for problem in result.problems:
        print(f"imagegate: error: {problem}", file=sys.stderr)
    if not result.ok:
        return EXIT_CONFIG
    lock = result.config.lock
    decided = f"; {lock.name}: {len(result.decisions or ())} decisions" if lock is not None else ""
    print(f"{path}: valid, {len(result.config.images)} images{decided}")
    return EXIT_OK
