"""The web console in tests: its allowlist section and users file, ``imagegate console`` as a
real subprocess, and a real headless Chromium (Debian's, through Playwright; nothing is
downloaded). Screenshots go to ``$CONSOLE_SCREENSHOTS`` (default build/console-screenshots).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from imagegate.console.passwords import hash_password
from tests.support.watch_process import REPO_ROOT, wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
USERS = {"dev": ("viewer", "dev-password-1"), "ann": ("approver", "ann-password-1")}


def screenshot_dir() -> Path:
    path = Path(os.environ.get("CONSOLE_SCREENSHOTS") or REPO_ROOT / "build/console-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def console_section(
    directory: Path, *, proxy_trusted: str | None = None, users: bool = True
) -> str:
    """The allowlist's ``console:`` section (YAML, top level); writes the users file."""
    lines = ["console:", "  approvers: [ann]", "  viewers: [dev]"]
    if users:
        path = directory / "console-users"
        path.write_text(
            "# test users\n"
            + "".join(f"{name}:{hash_password(pw)}\n" for name, (_, pw) in USERS.items())
        )
        lines.append(f"  users_file: {path}")
    if proxy_trusted is not None:
        lines += ["  proxy:", "    header: X-Forwarded-User", f"    trusted: [{proxy_trusted}]"]
    return "\n".join(lines) + "\n"


class ConsoleProcess:
    """``imagegate console`` on a free loopback port; its output kept in a file."""

    def __init__(self, config: Path, *, tmp: Path) -> None:
        self.log_path = tmp / f"console-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("wb")
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "src"))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "imagegate", "--log-format", "json", "console", "-c",
             str(config), "--listen", "127.0.0.1:0"],
            stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=tmp,
        )  # fmt: skip
        found = wait_for("the console to start", self._started)
        self.base: str = found.group(1)  # http://127.0.0.1:PORT
        self.url = self.base + "/console"

    def _started(self) -> re.Match[str] | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"console exited {self.proc.returncode}:\n{self.output()}")
        return re.search(r"serving (http://[0-9.:]+)/console/", self.output())

    def output(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(30)
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._log.close()


def have_chromium() -> bool:
    return Path(CHROMIUM).exists() and shutil.which("chromium") is not None


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def sign_in(page: Any, url: str, user: str) -> None:
    page.goto(url + "/signin")
    page.fill("input[name=user]", user)
    page.fill("input[name=password]", USERS[user][1])
    page.click("form.signin button[type=submit]")
    page.wait_for_url(url + "/catalogue")


def shoot(page: Any, name: str) -> Path:
    path = screenshot_dir() / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def off_loop(fn: Any, *args: Any) -> Any:
    """Call ``fn(*args)`` in a worker thread: Playwright's sync API keeps an event loop
    running in the test's thread, and the CLI starts its own with ``asyncio.run``."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result()
