"""/readyz: the configuration is loaded and the state database usable; nothing upstream."""

import asyncio
from pathlib import Path

from imagegate.config.load import load_config
from imagegate.state import open_state
from imagegate.watch.readiness import check_state, readiness

CONFIG = """\
version: 1
target: {{registry: mirror.invalid, namespace: acme}}
state: {state}
images:
  - source: upstream.invalid/x/app
    tags: ["1.0"]
"""


def config_at(tmp_path: Path, state: Path):
    path = tmp_path / "imagegate.yaml"
    path.write_text(CONFIG.format(state=state))
    return load_config(path)


def test_a_state_database_that_can_be_read_is_ready(tmp_path):
    db = tmp_path / "state.db"
    with open_state(db):
        pass
    config = config_at(tmp_path, db)
    report = asyncio.run(readiness(config, None, reload_error="line 3: bad key"))
    assert report.healthy and report.body["status"] == "ready"
    assert report.body["config_reload_error"] == "line 3: bad key"  # shown, still ready
    assert report.body["state_error"] is None


def test_before_the_first_run_a_writable_directory_is_enough(tmp_path):
    assert check_state(tmp_path / "new.db") is None
    assert not (tmp_path / "new.db").exists()  # the check wrote nothing
    problem = check_state(tmp_path / "missing" / "state.db")
    assert problem is not None and "not a writable directory" in problem


def test_a_damaged_state_database_is_not_ready(tmp_path):
    db = tmp_path / "state.db"
    db.write_bytes(b"this is not a database" * 100)
    config = config_at(tmp_path, tmp_path / "other.db")
    report = asyncio.run(readiness(config, str(db)))  # --state overrides the file's
    assert not report.healthy and report.body["status"] == "unready"
    assert report.body["state"] == str(db)
    assert report.body["state_error"]
