"""``make demo CONSOLE=1``: after the story, the web console on the demo's state, with the
registries still up, until Ctrl-C. A ``console:`` section and a users file with one approver
(``demo``, a password made up now and printed once) are added to the demo's allowlist."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

from demo.console import heading, say, shown_path
from imagegate.console.passwords import hash_password

USER = "demo"
LISTEN = "127.0.0.1:9109"
HINT = (
    "Look at what the demo did in the web console (catalogue, review queue, activity): "
    "make demo CONSOLE=1 keeps it and the registries up until Ctrl-C."
)


def serve_console(workdir: Path) -> None:
    password = secrets.token_urlsafe(9)
    users = workdir / "console-users"
    users.write_text(f"{USER}:{hash_password(password)}\n")
    users.chmod(0o600)
    cfg = workdir / "imagegate.yaml"
    with cfg.open("a") as f:
        f.write(f"console:\n  approvers: [{USER}]\n  viewers: ['*']\n  users_file: console-users\n")
    heading("The web console on the demo's state (Ctrl-C stops it and the registries)")
    say(f"  open http://{LISTEN}/console/  and sign in as {USER} / {password}")
    say(f"  (added a 'console:' section to {shown_path(cfg)}; see docs/console.md)")
    try:
        subprocess.run(  # noqa: S603 (our own CLI)
            [sys.executable, "-m", "imagegate", "console", "-c", str(cfg), "--listen", LISTEN],
            check=False,
        )
    except KeyboardInterrupt:  # Ctrl-C reached the console too; the demo then tidies up
        say("  console stopped")
