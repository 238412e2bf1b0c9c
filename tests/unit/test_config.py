"""The allowlist loader: one test per kind of mistake (file, line and key in the message)."""

import json
import random
import textwrap
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
import yaml

from imagegate.cli.main import main
from imagegate.config.images import DEFAULT_KEYS, IMAGE_KEYS, TAG_RULE_KEYS
from imagegate.config.load import (
    HUB_KEYS,
    IAM_KEYS,
    REGISTRY_KEYS,
    SCHEDULE_KEYS,
    TARGET_KEYS,
    TOP_KEYS,
    WEBHOOK_KEYS,
    load_config,
)
from imagegate.config.schema import SCHEMA, TAG_RULES
from imagegate.domain.allowlist import Permission, Policy, Secret, TeamsMode, Visibility
from imagegate.domain.digest import Digest
from imagegate.domain.manifest import Platform
from imagegate.domain.reference import parse_reference, parse_repository
from imagegate.domain.schedule import parse_cron, parse_duration
from imagegate.errors import EXIT_CONFIG, ConfigError, InvalidReferenceError
from imagegate.state.paths import default_state_path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "imagegate.yaml"
LOCAL = """\
version: 1
target: {registry: "127.0.0.1:5000", namespace: mirror}
images:
  - source: bitnami/redis
    tags: ["7.2"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "imagegate.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def load(tmp_path, text, env=None):
    return load_config(write(tmp_path, text), env=env or {})


def error(tmp_path, text, env=None) -> tuple[str, str]:
    """(message after 'file:', whole message) of the ConfigError raised."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(path, env=env or {})
    msg = str(exc.value)
    assert exc.value.exit_code == EXIT_CONFIG
    assert msg.startswith(f"{path}:"), msg
    assert "\n" not in msg
    return msg.removeprefix(f"{path}:"), msg


def hub(images: str, extra: str = "") -> str:
    return (
        "version: 1\ntarget:\n  registry: docker.io\n  namespace: acme\n"
        f"{extra}images:\n{textwrap.dedent(images)}"
    )


# ---- the example and the resolved values ----------------------------------------------------


def test_example_file_loads_fully_resolved():
    cfg = load_config(EXAMPLE, env={"HUB_TOKEN": "dckr_pat_secret"})
    assert cfg.target.registry == "docker.io"
    assert cfg.target.hub is not None and cfg.target.hub.username == "acme"
    assert cfg.target.hub.token == Secret("dckr_pat_secret")
    assert cfg.target.access_management is not None
    assert cfg.target.manage_teams is TeamsMode.ADDITIVE
    redis, loki, node = cfg.images
    assert redis.target == parse_repository("docker.io/acme/redis")
    assert redis.tags.explicit == ("7.2", "7.4") and redis.tags.newest is None  # replaced
    assert loki.target.familiar == "acme/loki" and loki.line == 35 and loki.index == 1
    assert loki.tags.semver == ">=3.0" and loki.tags.newest == 3
    assert dict(loki.teams) == {
        "data": Permission.READ,
        "developers": Permission.READ,
        "platform": Permission.WRITE,
    }
    assert loki.policy is Policy.REVIEW and loki.visibility is Visibility.PUBLIC
    assert node.source.registry == "quay.io"
    assert str(node.tags.pins["v1.8.2"]).startswith("sha256:4032c6d5")
    assert node.platforms == (Platform("linux", "amd64"), Platform("linux", "arm64"))
    assert cfg.state == EXAMPLE.parent / "imagegate-state.db"
    assert cfg.schedule is not None and cfg.schedule.every == timedelta(hours=6)
    assert cfg.schedule.jitter == timedelta(minutes=5)
    assert str(cfg.listen) == "127.0.0.1:9108"
    assert cfg.registries["docker.io"].rate_limit_floor == 10
    assert cfg.webhooks[0].url.reveal().startswith("https://hooks.slack.example/")
    assert cfg.warnings == ()
    assert cfg.find_image("grafana/loki") is loki
    assert cfg.find_image("acme/loki") is loki
    assert cfg.find_image("docker.io/grafana/loki") is loki
    assert cfg.find_image("nope/nope") is None


def test_defaults_merge_and_builtin_defaults(tmp_path):
    cfg = load(
        tmp_path,
        hub(
            """\
        - source: a/one
        - source: b/two
          tags: [x]
          teams: {developers: none, ops: admin}
          visibility: public
          policy: pin
          prune: true
          backup: false
          platforms: [linux/arm/v7]
        """,
            extra=textwrap.dedent("""\
        defaults:
          tags: {newest: 5, exclude: ['-rc']}
          teams: {developers: read}
          policy: review
        """),
        ),
    )
    one, two = cfg.images
    assert one.tags.newest == 5 and one.tags.exclude == ("-rc",)
    assert dict(one.teams) == {"developers": Permission.READ}
    assert one.policy is Policy.REVIEW and one.visibility is Visibility.PRIVATE
    assert one.prune is False and one.backup is True and one.platforms is None
    assert two.tags.explicit == ("x",) and two.tags.newest is None
    assert dict(two.teams) == {"ops": Permission.ADMIN}  # 'none' removed the default grant
    assert (two.policy, two.visibility, two.prune, two.backup) == (
        Policy.PIN,
        Visibility.PUBLIC,
        True,
        False,
    )
    assert two.platforms == (Platform("linux", "arm", "v7"),)
    assert cfg.state == default_state_path({})


def test_non_hub_target_uses_namespace_as_path_prefix(tmp_path):
    cfg = load(
        tmp_path,
        """\
        version: 1
        target: {registry: "localhost:5000", namespace: team/mirror}
        images:
          - {source: "ghcr.io/org/tool", tags: ["1"]}
          - {source: "org/app", target: apps/app, tags: ["1"]}
        """,
    )
    assert cfg.target.hub is None
    assert [str(i.target) for i in cfg.images] == [
        "localhost:5000/team/mirror/tool",
        "localhost:5000/team/mirror/apps/app",
    ]
    cfg2 = load(
        tmp_path,
        'version: 1\ntarget: {registry: "localhost:5000"}\nimages: [{source: x/y, tags: [a]}]\n',
    )
    assert str(cfg2.images[0].target) == "localhost:5000/y"


def test_hub_section_on_another_registry_enables_hub_rules(tmp_path):
    cfg = load(
        tmp_path,
        """\
        version: 1
        target:
          registry: 127.0.0.1:5001
          namespace: acme
          hub: {url: "http://127.0.0.1:8080/"}
          manage_teams: exclusive
        images: [{source: x/yy, tags: [a]}]
        """,
    )
    assert cfg.target.hub is not None and cfg.target.hub.url == "http://127.0.0.1:8080"
    assert cfg.target.manage_teams is TeamsMode.EXCLUSIVE
    assert cfg.images[0].target.name == "127.0.0.1:5001/acme/yy"


def test_env_expansion_with_defaults_and_escape(tmp_path):
    cfg = load(
        tmp_path,
        """\
        version: 1
        target:
          registry: ${REG:-localhost:5000}
          namespace: ${NS}
        registries:
          "localhost:5000": {username: "${U}", password: "${P}"}
        images:
          - {source: x/y, tags: ["${TAG:-v1}"], description: "costs $$5 $${NOT}"}
        """,
        env={"NS": "mirror", "U": "bob", "P": "s3cret"},
    )
    assert cfg.target.registry == "localhost:5000" and cfg.target.namespace == "mirror"
    entry = cfg.registry("localhost:5000")
    assert entry.username == "bob" and entry.password is not None
    assert entry.password.reveal() == "s3cret"
    assert "s3cret" not in repr(cfg) and str(entry.password) == "***"
    assert cfg.images[0].tags.explicit == ("v1",)
    assert cfg.images[0].description == "costs $$5 ${NOT}"
    assert cfg.warnings == ()


def test_literal_secret_is_allowed_with_a_warning(tmp_path):
    cfg = load(
        tmp_path, hub("  - {source: x/yy, tags: [a]}\n", extra="  hub: {token: dckr_pat_literal}\n")
    )
    assert cfg.target.hub is not None and cfg.target.hub.token is not None
    assert len(cfg.warnings) == 1
    assert ":5: target.hub.token: this value is written in clear" in cfg.warnings[0]
    assert "dckr_pat_literal" not in cfg.warnings[0]


# ---- one test per kind of mistake -----------------------------------------------------------


def test_missing_file():
    with pytest.raises(ConfigError, match=r"nope\.yaml: file not found"):
        load_config("/nonexistent/nope.yaml", env={})


def test_unreadable_path_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path, env={})  # a directory


def test_yaml_syntax_error_names_the_line(tmp_path):
    where, _ = error(tmp_path, "version: 1\ntarget:\n  registry: [oops\nimages: []\n")
    assert where.startswith("4: invalid YAML:")


def test_empty_file(tmp_path):
    assert "file is empty" in error(tmp_path, "# nothing\n")[0]


def test_top_level_not_a_mapping(tmp_path):
    assert error(tmp_path, "- a\n")[0].startswith("1: expected a mapping")


def test_missing_version(tmp_path):
    where, _ = error(tmp_path, "target: {registry: docker.io}\nimages: []\n")
    assert where.startswith("1: missing 'version'; add 'version: 1'")


def test_unsupported_version(tmp_path):
    where, _ = error(tmp_path, LOCAL.replace("version: 1", "version: 2"))
    assert where.startswith("1: version: unsupported version 2; this imagegate reads version 1")


def test_unknown_key_suggests_the_closest(tmp_path):
    where, _ = error(tmp_path, LOCAL.replace("namespace", "namespce"))
    assert where == "2: target.namespce: unknown key 'namespce'; did you mean 'namespace'?"


def test_unknown_key_without_close_match_lists_valid_keys(tmp_path):
    where, _ = error(tmp_path, LOCAL + "    zzz: 1\n")
    assert where.startswith("6: images[0].zzz: unknown key 'zzz'; valid keys: backup, ")


def test_duplicate_key(tmp_path):
    where, _ = error(tmp_path, LOCAL + "    tags: [a]\n")
    assert where == "6: images[0]: duplicate key 'tags' (first on line 5); keep only one"


def test_wrong_type(tmp_path):
    where, _ = error(tmp_path, LOCAL.replace('tags: ["7.2"]', "tags: 7"))
    assert where == (
        "5: images[0].tags: expected a list of tags or a mapping of rules, got the number 7"
    )


def test_unquoted_number_where_a_tag_is_expected(tmp_path):
    where, _ = error(tmp_path, LOCAL.replace('["7.2"]', "[7.10]"))
    assert where == "5: images[0].tags[0]: expected a string, got the number 7.10; quote it: '7.10'"


def test_invalid_regex(tmp_path):
    where, _ = error(tmp_path, LOCAL.replace('["7.2"]', "{include: ['^(3']}"))
    assert where.startswith("5: images[0].tags.include: invalid regular expression '^(3'")


def test_invalid_semver_range(tmp_path):
    text = LOCAL.replace('tags: ["7.2"]', "tags:\n      semver: '>=x'")
    where, _ = error(tmp_path, text)
    assert where.startswith("6: images[0].tags.semver: invalid range '>=x' (")


def test_invalid_pin_digest(tmp_path):
    where, _ = error(tmp_path, LOCAL.replace('"7.2"', '"7.2@sha256:abc"'))
    assert where.startswith("5: images[0].tags[0]: invalid digest 'sha256:abc'")


def test_invalid_tag(tmp_path):
    where, _ = error(tmp_path, LOCAL.replace('"7.2"', '"-bad"'))
    assert where.startswith("5: images[0].tags[0]:") and "tag '-bad'" in where


def test_invalid_source_reference(tmp_path):
    where, _ = error(tmp_path, LOCAL.replace("bitnami/redis", "Bitnami/Redis"))
    assert where.startswith("4: images[0].source: invalid reference") and "lowercase" in where


def test_source_with_a_tag(tmp_path):
    where, _ = error(tmp_path, LOCAL.replace("bitnami/redis", "bitnami/redis:7"))
    assert where.startswith("4: images[0].source: invalid repository")
    assert where.endswith("list tags under 'tags:'")


def test_invalid_platform(tmp_path):
    text = LOCAL + "    platforms: [linux/x86_64]\n"
    where, _ = error(tmp_path, text)
    assert where == (
        "6: images[0].platforms[0]: invalid platform 'linux/x86_64': "
        "unknown architecture 'x86_64'; Go/OCI calls it 'amd64'"
    )
    assert "expected os/arch" in error(tmp_path, LOCAL + "    platforms: [linux]\n")[0]


def test_invalid_choice_values(tmp_path):
    where, _ = error(tmp_path, LOCAL + "    visibility: privat\n")
    assert where == (
        "6: images[0].visibility: invalid value 'privat': expected one of "
        "private, public; did you mean 'private'?"
    )
    where, _ = error(tmp_path, LOCAL + "    policy: manual\n")
    assert where.startswith("6: images[0].policy: invalid value 'manual': expected one of auto,")
    where, _ = error(tmp_path, hub("  - {source: x/yy, tags: [a], teams: {dev: owner}}\n"))
    assert where.startswith("6: images[0].teams.dev: invalid value 'owner': expected one of read")


def test_invalid_duration_and_cron(tmp_path):
    where, _ = error(tmp_path, LOCAL + "schedule: {every: 6 hours}\n")
    assert where.startswith("6: schedule.every: invalid duration '6 hours'")
    where, _ = error(tmp_path, LOCAL + "schedule: {cron: '0 25 * * *'}\n")
    assert where.startswith(
        "6: schedule.cron: invalid cron expression '0 25 * * *': hour value 25 is out of range"
    )
    # the file takes whole numbers only (its JSON Schema says so); the CLI flags take 1.5h too
    where, _ = error(tmp_path, LOCAL + "schedule: {every: 1.5h}\n")
    assert (
        where
        == "6: schedule.every: invalid duration '1.5h': use whole numbers, like 1h30m for 1.5h"
    )
    where, _ = error(tmp_path, LOCAL + "schedule: {every: 0s}\n")
    assert where.startswith("6: schedule.every: invalid duration '0s': it must be longer than zero")
    assert load(
        tmp_path, LOCAL + "schedule: {every: 1h, jitter: 0s}\n"
    ).schedule.jitter == timedelta(0)
    cron = load(tmp_path, LOCAL + "schedule: {cron: '@daily'}\n").schedule.cron
    assert cron is not None and cron.text == "@daily" and cron.hours == frozenset({0})
    where, _ = error(tmp_path, LOCAL + "schedule: {every: 1h, cron: '@daily'}\n")
    assert where.startswith("6: schedule: set exactly one of 'every'")
    where, _ = error(tmp_path, LOCAL + "schedule: {every: 1h, jitter: 1h}\n")
    assert where.startswith(
        "6: schedule.jitter: jitter 1h must be shorter than the interval 1h; lower the jitter"
    )


def test_invalid_listen_address(tmp_path):
    where, _ = error(tmp_path, LOCAL + "listen: 9108\n")
    assert where.startswith("6: listen: expected a string")
    where, _ = error(tmp_path, LOCAL + "listen: 'localhost:99999'\n")
    assert where.startswith("6: listen: invalid address 'localhost:99999'")


def test_missing_environment_variable_names_key_and_variable(tmp_path):
    where, _ = error(tmp_path, LOCAL.replace("mirror", '"${ORG}"'))
    assert where == (
        "2: target.namespace: environment variable ORG is not set; "
        "export it or write ${ORG:-default}"
    )


@pytest.mark.parametrize(
    "url",
    [
        "ftp://user:topsecret@x",
        "https:///topsecret",
        "https://h.example.com:99999/topsecret",
        "https://h.example.com/top secret",
    ],
)
def test_webhook_url_error_never_shows_the_secret(tmp_path, url):
    """The loader is the one place a webhook URL is checked; notify trusts its values."""
    text = LOCAL + "notify:\n  webhooks:\n    - url: ${HOOK}\n"
    where, whole = error(tmp_path, text, env={"HOOK": url})
    assert where.startswith("8: notify.webhooks[0].url: must be an http:// or https:// URL")
    assert "topsecret" not in whole


def test_two_sources_mapping_to_one_target(tmp_path):
    where, _ = error(
        tmp_path,
        hub("""\
        - source: grafana/loki
          tags: [a]
        - source: other/thing
          target: loki
          tags: [b]
        """),
    )
    assert where == (
        "8: images[1]: 'other/thing' and 'grafana/loki' (images[0] (line 6)) both "
        "map to acme/loki; set a different 'target:' on one of them"
    )


def test_hub_target_name_must_be_one_component(tmp_path):
    where, _ = error(tmp_path, hub("  - {source: x/y, target: a/b, tags: [t]}\n"))
    assert where.startswith(
        "6: images[0].target: target name 'a/b': Docker Hub repositories are namespace/name"
    )


def test_hub_target_name_rules_and_default_from_source(tmp_path):
    where, _ = error(tmp_path, hub("  - {source: x/y__z, tags: [t]}\n"))
    assert where.startswith("6: images[0].source: target name 'y__z' (taken from the source")
    assert where.endswith("; set 'target:'")
    where, _ = error(tmp_path, hub("  - {source: x/y, target: a, tags: [t]}\n"))
    assert "2-255 lowercase" in where


def test_hub_namespace_is_required_and_single(tmp_path):
    text = "version: 1\ntarget: {registry: docker.io}\nimages: [{source: x/y, tags: [a]}]\n"
    assert error(tmp_path, text)[0].startswith("2: target: a Docker Hub target needs 'namespace'")
    text = text.replace("docker.io}", "docker.io, namespace: a/b}")
    assert error(tmp_path, text)[0].startswith("2: target.namespace: invalid Docker Hub namespace")


def test_invalid_registry_host(tmp_path):
    where, _ = error(tmp_path, LOCAL.replace('"127.0.0.1:5000"', "myregistry"))
    assert where.startswith("2: target.registry: invalid registry 'myregistry'")


def test_registries_aliases_collide(tmp_path):
    text = LOCAL + "registries:\n  docker.io: {}\n  index.docker.io: {}\n"
    where, _ = error(tmp_path, text)
    assert where.startswith("8: registries.index.docker.io: 'index.docker.io' is the same")


def test_registry_username_without_password(tmp_path):
    where, _ = error(tmp_path, LOCAL + "registries:\n  ghcr.io: {username: bob}\n")
    assert where == "7: registries.ghcr.io: set both 'username' and 'password', or neither"


def test_access_management_needs_a_hub_target(tmp_path):
    text = LOCAL.replace("namespace: mirror}", "namespace: mirror,\n  access_management: {}}")
    assert "needs a Docker Hub target" in error(tmp_path, text)[0]


def test_image_without_tags(tmp_path):
    where, _ = error(tmp_path, LOCAL.replace('    tags: ["7.2"]\n', ""))
    assert where == "4: images[0]: no tags: set 'tags:' on the image or in 'defaults:'"


def test_description_too_long(tmp_path):
    where, _ = error(tmp_path, LOCAL + f"    description: {'x' * 101}\n")
    assert where == "6: images[0].description: is 101 characters; Docker Hub allows 100"


def test_out_of_range_number(tmp_path):
    where, _ = error(tmp_path, LOCAL.replace('["7.2"]', "{newest: 0}"))
    assert where == "5: images[0].tags.newest: must be at least 1, got 0"


def test_boolean_expected(tmp_path):
    where, _ = error(tmp_path, LOCAL + "    prune: 'yes'\n")
    assert where == "6: images[0].prune: expected true or false, got the string 'yes'"


# ---- the JSON Schema stays in sync with the loader -------------------------------------------


def _yaml(path: Path):
    return yaml.safe_load(path.read_text())


def test_example_validates_against_the_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(_yaml(EXAMPLE))


def test_schema_keys_match_the_loader():
    props = SCHEMA["properties"]
    assert set(props) == TOP_KEYS
    assert set(props["target"]["properties"]) == TARGET_KEYS
    assert set(props["target"]["properties"]["hub"]["properties"]) == HUB_KEYS
    assert set(props["target"]["properties"]["access_management"]["properties"]) == IAM_KEYS
    assert set(props["registries"]["additionalProperties"]["properties"]) == REGISTRY_KEYS
    assert set(props["defaults"]["properties"]) == DEFAULT_KEYS
    assert set(props["images"]["items"]["properties"]) == IMAGE_KEYS
    assert set(TAG_RULES["properties"]) == TAG_RULE_KEYS
    assert set(props["schedule"]["properties"]) == SCHEDULE_KEYS
    assert set(props["notify"]["properties"]["webhooks"]["items"]["properties"]) == WEBHOOK_KEYS


@pytest.mark.parametrize(
    "mistake",
    [
        ("images[0]", {"source": "a/b", "tagz": ["x"]}),
        ("images[0]", {"source": "a/b", "visibility": "secret"}),
        ("images[0]", {"source": "a/b", "tags": 7}),
        ("images[0]", {"source": "a/b", "platforms": "some"}),
        ("top", {"version": 2}),
        ("top", {"schedule": {"every": "6 hours"}}),
    ],
)
def test_broken_files_fail_both_schema_and_loader(tmp_path, mistake):
    where, change = mistake
    doc = _yaml(EXAMPLE)
    if where == "top":
        doc.update(change)
    else:
        doc["images"][0] = change
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError):
        load_config(path, env={"HUB_TOKEN": "t"})


def test_schema_command_prints_the_schema(capsys):
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["$id"] == SCHEMA["$id"]


# ---- never exit 70: values that used to escape as Python exceptions -----------------------


@pytest.mark.parametrize(
    ("tag", "why"),
    [("v\u00e91", "non-ASCII letter"), ("v1\n", "final newline"), ("\u0663", "Arabic digit")],
)
def test_tag_check_is_ascii_and_whole_string(tmp_path, tag, why):
    where, _ = error(tmp_path, LOCAL.replace('["7.2"]', json.dumps([tag])))
    assert where.startswith("5: images[0].tags[0]: invalid reference"), (why, where)


def test_reference_checks_are_ascii_and_whole_string():
    for text in (
        "a/b:v\u00e91",
        "a/b:v1\n",
        "a/b\n",
        "\u00e9/b",
        "127.0.0.1:99999/a/b",
        "127.0.0.1:0/a/b",
        "127.0.0.1:" + "9" * 5000 + "/a/b",
        "a/b@sha256:" + "a" * 64 + "\n",
    ):
        with pytest.raises(InvalidReferenceError) as exc:
            parse_reference(text)
        assert "\n" not in str(exc.value).replace("\\n", "")
    assert parse_reference("127.0.0.1:65535/a/b").registry == "127.0.0.1:65535"
    with pytest.raises(InvalidReferenceError, match="invalid digest"):
        Digest.parse("sha256:" + "a" * 64 + "\n")


@pytest.mark.parametrize(
    "text", ["99999999999999999999d", "9" * 5000 + "s", "3651d", "87601h", "1" * 33 + "ms"]
)
def test_durations_above_ten_years_are_refused(text):
    with pytest.raises(ConfigError, match="longer than 3650d"):
        parse_duration(text)


def test_duration_edges():
    assert parse_duration("3650d") == timedelta(days=3650)
    with pytest.raises(ConfigError, match="longer than zero"):
        parse_duration("0.0000001s")  # rounds to zero microseconds
    with pytest.raises(ConfigError, match="out of range"):
        parse_cron("9" * 100 + " * * * *")
    with pytest.raises(ConfigError, match="not a number"):
        parse_cron("\u0663 * * * *")


def test_ca_file_is_checked_when_the_file_loads(tmp_path):
    text = LOCAL + 'registries:\n  "r.example": {ca_file: missing.pem}\n'
    where, _ = error(tmp_path, text)
    assert where.startswith("7: registries.r.example.ca_file: the CA file "), where
    assert str(tmp_path / "missing.pem") in where
    (tmp_path / "missing.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    assert load(tmp_path, text).registries["r.example"].ca_file == tmp_path / "missing.pem"
    where, _ = error(tmp_path, text.replace("missing.pem", str(tmp_path)))
    assert "Is a directory" in where


def test_allowlist_size_depth_and_control_characters(tmp_path):
    path = write(tmp_path, "")
    path.write_bytes(b"#" * (4 * 1024 * 1024 + 1))
    with pytest.raises(ConfigError, match="larger than 4 MiB"):
        load_config(path, env={})
    where, _ = error(tmp_path, "version: 1\nx: " + "[" * 65 + "]" * 65 + "\n")
    assert where.startswith("2: invalid YAML: nested more than 64 levels"), where
    where, _ = error(tmp_path, "version: 1\n\ntarget: a\x00\n")
    assert where == "3: invalid YAML: the control character U+0000 is not allowed; remove it " + (
        "(is this a text file?)"
    )
    path.write_bytes(b"version: 1\n\xff\n")
    with pytest.raises(ConfigError, match=r":2: cannot read the file: it is not UTF-8"):
        load_config(path, env={})


def _mutations(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    base = EXAMPLE.read_text()
    tokens = ["[", "]", "{", "}", ": ", "- ", "&a ", "*a", "!!binary ", "\t", "\x00", "\u00e9",
              "9" * 5000, ":99999", "@sha256:", "\n", "'", '"', "${X}", "[" * 3000, "1e999",
              "99999999999999999999d", "v1\n", "<<: *a", "---\n", "? ", "|"]  # fmt: skip
    out = []
    for _ in range(count):
        text = base
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(text) + 1)
            if rng.random() < 0.6:
                text = text[:pos] + rng.choice(tokens) + text[pos:]
            else:
                text = text[:pos] + text[pos + rng.randint(1, 20) :]
        out.append(text)
    return out


def test_fuzzed_allowlists_only_ever_give_a_one_line_config_error(tmp_path):
    """A seeded sample of broken files (docs/reliability.md has the larger run's figures)."""
    path = tmp_path / "imagegate.yaml"
    failures = []
    loaded = refused = 0
    for text in _mutations(seed=20250101, count=300):
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_config(path, env={"X": "y", "HUB_TOKEN": "t", "SLACK_WEBHOOK_URL": "https://h/x"})
            loaded += 1
        except ConfigError as exc:
            refused += 1
            if "\n" in str(exc):
                failures.append(("multi-line", str(exc)))
        except Exception as exc:  # what the CLI would report as exit 70
            failures.append((type(exc).__name__, str(exc)[:80]))
    assert failures == []
    assert refused > 100 and loaded + refused == 300
