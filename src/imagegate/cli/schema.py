"""``imagegate schema``: print the allowlist's JSON Schema (for editors and CI linters)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from imagegate.errors import EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser(
        "schema",
        help="print the JSON Schema of the allowlist file",
        description="Print the JSON Schema (draft 2020-12) of imagegate.yaml. Point your "
        "editor's YAML language server at it to get completion and inline checks.",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from imagegate.config.schema import schema_json

    sys.stdout.write(schema_json() + "\n")
    return EXIT_OK
