"""``python -m imagegate``."""

from imagegate.cli.main import entry

entry()
