"""Byte-code for the source tree being measured, as an installed imagegate has it.

``pip install`` compiles every module of a wheel to byte-code, and the OCI image compiles its
site-packages at build time, so a user's ``imagegate`` never compiles its own source at
start-up. A checkout run with ``PYTHONPATH=src`` does, on every start, when the environment
sets ``PYTHONDONTWRITEBYTECODE=1`` (this development machine does): ``history`` then spends
about 0.07 s of its CPU in ``compile()``, a ``sync`` more. The benches call
:func:`compile_tree` on every source tree they time, so the figures are an installed
user's. The ``__pycache__`` folders it writes are ignored by Git.
"""

from __future__ import annotations

import compileall
from pathlib import Path

REPO_SRC = Path(__file__).resolve().parent.parent / "src"


def compile_tree(src: Path = REPO_SRC) -> None:
    """Write the byte-code of every module under ``src`` (what ``pip install`` does)."""
    if not compileall.compile_dir(str(src), quiet=1):
        raise RuntimeError(f"byte-compiling {src} failed")
