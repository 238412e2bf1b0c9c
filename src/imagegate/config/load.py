"""Load the allowlist file (YAML) into a fully resolved ``domain.allowlist.Config``.

Strict: unknown keys, wrong types and invalid values are ``ConfigError`` naming
``file:line: key.path``. The format is documented in ``docs/allowlist.md``; its JSON Schema
is ``imagegate.config.schema.SCHEMA``. Relative paths are relative to the file's directory.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType

from imagegate.config.console import parse_console
from imagegate.config.images import parse_defaults, parse_images
from imagegate.config.trust import apply_trust
from imagegate.config.yamldoc import Context, Node, compose_file
from imagegate.domain.allowlist import (
    DEFAULT_HUB_URL,
    REQUEST_TIMEOUT_RANGE,
    STALL_MIN_KIB_RANGE,
    STALL_WINDOW_RANGE,
    SUPPORTED_VERSIONS,
    AccessManagement,
    Config,
    HubSettings,
    NotifyEvent,
    RegistrySettingsEntry,
    Target,
    TeamsMode,
    WebhookConfig,
    WebhookFormat,
    is_webhook_url,
)
from imagegate.domain.listen import ListenAddress, parse_listen
from imagegate.domain.reference import (
    DOCKER_HUB,
    DOCKER_HUB_ALIASES,
    parse_reference,
    parse_repository,
)
from imagegate.domain.schedule import Schedule, parse_cron, parse_duration
from imagegate.errors import ConfigError, InvalidReferenceError
from imagegate.state.paths import default_state_path

TOP_KEYS = frozenset(
    {"version", "target", "registries", "defaults", "images", "state", "schedule", "listen",
     "notify", "lock", "console"}
)  # fmt: skip
TARGET_KEYS = frozenset({"registry", "namespace", "hub", "access_management", "manage_teams"})
HUB_KEYS = frozenset({"url", "username", "token", "team_ids", "teams_username", "teams_token"})
IAM_KEYS = frozenset({"enabled", "allow_official_images", "allow_verified_publishers"})
REGISTRY_KEYS = frozenset(
    {"insecure", "ca_file", "username", "password", "max_concurrency", "rate_limit_floor",
     "request_timeout", "stall_window", "stall_min_kib"}
)  # fmt: skip
SCHEDULE_KEYS = frozenset({"every", "cron", "jitter"})
WEBHOOK_KEYS = frozenset({"url", "format", "events"})
_URL = re.compile(r"https?://[^\s/]+(?:/\S*)?", re.ASCII)
_NAMESPACE = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*", re.ASCII)


def load_config(path: str | Path, *, env: Mapping[str, str] | None = None) -> Config:
    """Read, validate and resolve an allowlist file. ``env`` defaults to ``os.environ``."""
    file = Path(path)
    ctx = Context(display=str(path), env=os.environ if env is None else env)
    root = Node(compose_file(file, ctx), "", ctx)
    if not root.is_mapping:
        raise root.error("expected a mapping with 'version', 'target' and 'images' at the top")
    top = root.mapping(TOP_KEYS)
    _check_version(top.get("version"), root)
    missing = [k for k in ("target", "images") if k not in top]
    if missing:
        raise root.error(f"missing required key {missing[0]!r}")
    base = file.resolve().parent
    target = _target(top["target"])
    defaults = parse_defaults(top.get("defaults"))
    images = parse_images(top["images"], defaults, target)
    images = apply_trust(top.get("defaults"), top["images"], images, base)
    if target.hub is None and any(img.teams for img in images):
        top["images"].warn("team grants only apply to a Docker Hub target (target.hub); ignored")
    state = (
        _path(top["state"], base) if "state" in top else default_state_path(ctx.env)
    )  # fmt: skip
    return Config(
        path=file.resolve(),
        version=1,
        target=target,
        registries=MappingProxyType(_registries(top["registries"], base))
        if "registries" in top
        else MappingProxyType({}),
        images=images,
        state=state,
        schedule=_schedule(top["schedule"]) if "schedule" in top else None,
        listen=_listen(top["listen"]) if "listen" in top else ListenAddress(),
        webhooks=_notify(top["notify"]) if "notify" in top else (),
        lock=_path(top["lock"], base) if "lock" in top else None,
        console=parse_console(top["console"], base) if "console" in top else None,
        warnings=tuple(ctx.warnings),
    )


def _check_version(n: Node | None, root: Node) -> None:
    supported = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
    if n is None:
        raise root.error(f"missing 'version'; add 'version: 1' (supported: {supported})")
    version = n.integer()
    if version not in SUPPORTED_VERSIONS:
        raise n.error(
            f"unsupported version {version}; this imagegate reads version {supported} "
            "(upgrade imagegate for newer files)"
        )


def _path(n: Node, base: Path) -> Path:
    return (base / Path(n.string()).expanduser()).resolve()


def _ca_file(n: Node, base: Path) -> Path:
    """A CA bundle that exists and can be read now, not only when the first run connects."""
    path = _path(n, base)
    try:
        with path.open("rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise n.error(f"{path} is not a regular file; give the path of a PEM bundle")
    except FileNotFoundError:
        raise n.error(
            f"the CA file {path} does not exist; give the path of a PEM bundle "
            "(relative paths are relative to this file's directory)"
        ) from None
    except OSError as exc:
        raise n.error(f"cannot read the CA file {path}: {exc.strerror or exc}") from None
    return path


def _registry_host(text: str, n: Node) -> str:
    if text in DOCKER_HUB_ALIASES:
        return DOCKER_HUB
    try:
        ref = parse_reference(f"{text}/x", default_tag=None)
    except InvalidReferenceError:
        ref = None
    if ref is None or ref.registry != text:
        raise n.error(
            f"invalid registry {text!r}: expected host[:port] (port 1-65535) such as ghcr.io, "
            "registry.example.com:5000 or localhost:5000"
        )
    return text


def _hub(n: Node | None) -> HubSettings:
    if n is None:
        return HubSettings()
    m = n.mapping(HUB_KEYS)
    url = m["url"].string().rstrip("/") if "url" in m else DEFAULT_HUB_URL
    if not _URL.fullmatch(url):
        raise m["url"].error(f"invalid URL {url!r}: expected https://host[/path]")
    return HubSettings(
        url=url,
        username=m["username"].string() if "username" in m else None,
        token=m["token"].secret() if "token" in m else None,
        team_ids=MappingProxyType(_team_ids(m["team_ids"])) if "team_ids" in m else _NO_IDS,
        teams_username=m["teams_username"].string() if "teams_username" in m else None,
        teams_token=m["teams_token"].secret() if "teams_token" in m else None,
    )


_NO_IDS: Mapping[str, int] = MappingProxyType({})


def _team_ids(n: Node) -> dict[str, int]:
    """``team_ids: {developers: 12}``: grants then need no team listing (a personal access
    token cannot list teams; under SSO an owner's password cannot sign in)."""
    return {name: value.integer(minimum=1, maximum=2**53) for name, value in n.pairs()}


def _target(n: Node) -> Target:
    m = n.mapping(TARGET_KEYS, required=("registry",))
    registry = _registry_host(m["registry"].string(), m["registry"])
    is_hub = registry == DOCKER_HUB or "hub" in m
    hub = _hub(m.get("hub")) if is_hub else None
    ns_node = m.get("namespace")
    namespace = ns_node.string(allow_empty=True).strip("/") if ns_node is not None else ""
    if hub is not None:
        if not namespace:
            raise (ns_node or n).error(
                "a Docker Hub target needs 'namespace': the organization (or user) to mirror into"
            )
        if not _NAMESPACE.fullmatch(namespace):
            assert ns_node is not None
            raise ns_node.error(
                f"invalid Docker Hub namespace {namespace!r}: one lowercase name, no '/' "
                "(Hub repositories are namespace/name)"
            )
    elif namespace:
        try:
            parse_repository(f"{registry}/{namespace}")
        except InvalidReferenceError as exc:
            assert ns_node is not None
            raise ns_node.error(f"invalid namespace {namespace!r}: {exc}") from None
    iam = None
    if "access_management" in m:
        node = m["access_management"]
        if hub is None:
            raise node.error("needs a Docker Hub target: set registry: docker.io or a 'hub:'")
        a = node.mapping(IAM_KEYS)
        d = AccessManagement()
        iam = AccessManagement(
            enabled=a["enabled"].boolean() if "enabled" in a else d.enabled,
            allow_official_images=a["allow_official_images"].boolean()
            if "allow_official_images" in a
            else d.allow_official_images,
            allow_verified_publishers=a["allow_verified_publishers"].boolean()
            if "allow_verified_publishers" in a
            else d.allow_verified_publishers,
        )
    teams_mode = TeamsMode.ADDITIVE
    if "manage_teams" in m:
        if hub is None:
            raise m["manage_teams"].error("needs a Docker Hub target (registry docker.io or hub:)")
        teams_mode = m["manage_teams"].choice(TeamsMode)
    return Target(registry, namespace, hub, iam, teams_mode)


def _registries(n: Node, base: Path) -> dict[str, RegistrySettingsEntry]:
    out: dict[str, RegistrySettingsEntry] = {}
    for name, value in n.pairs():
        host = _registry_host(name, value)
        if host in out:
            raise value.error(f"{name!r} is the same registry as another entry ({host})")
        m = value.mapping(REGISTRY_KEYS)
        if ("username" in m) != ("password" in m):
            raise value.error("set both 'username' and 'password', or neither")
        out[host] = RegistrySettingsEntry(
            host=host,
            insecure=m["insecure"].boolean() if "insecure" in m else False,
            ca_file=_ca_file(m["ca_file"], base) if "ca_file" in m else None,
            username=m["username"].string() if "username" in m else None,
            password=m["password"].secret() if "password" in m else None,
            max_concurrency=m["max_concurrency"].integer(minimum=1, maximum=256)
            if "max_concurrency" in m
            else None,
            rate_limit_floor=m["rate_limit_floor"].integer(minimum=0)
            if "rate_limit_floor" in m
            else None,
            request_timeout=_seconds(m.get("request_timeout"), REQUEST_TIMEOUT_RANGE),
            stall_window=_seconds(m.get("stall_window"), STALL_WINDOW_RANGE),
            stall_min_kib=m["stall_min_kib"].integer(
                minimum=STALL_MIN_KIB_RANGE[0], maximum=STALL_MIN_KIB_RANGE[1]
            )
            if "stall_min_kib" in m
            else None,
        )
    return out


def _seconds(n: Node | None, bounds: tuple[float, float]) -> float | None:
    """A registry time limit (a duration like 30s or 2m) within ``bounds`` seconds."""
    if n is None:
        return None
    seconds = _duration(n, allow_zero=False).total_seconds()
    low, high = bounds
    if not low <= seconds <= high:
        raise n.error(f"must be between {low:g}s and {high:g}s, not {n.string()!r}")
    return seconds


def _duration(n: Node, *, allow_zero: bool) -> timedelta:
    text = n.string()
    if "." in text:  # the file takes whole numbers only (as its JSON Schema says)
        raise n.error(f"invalid duration {text!r}: use whole numbers, like 1h30m for 1.5h")
    try:
        return parse_duration(text, allow_zero=allow_zero)
    except ConfigError as exc:
        raise n.error(exc.detail) from None


def _schedule(n: Node) -> Schedule:
    m = n.mapping(SCHEDULE_KEYS)
    if ("every" in m) == ("cron" in m):
        raise n.error("set exactly one of 'every' (e.g. 6h) or 'cron' (e.g. '0 */6 * * *')")
    cron = None
    if "cron" in m:
        try:
            cron = parse_cron(m["cron"].string())
        except ConfigError as exc:
            raise m["cron"].error(exc.detail) from None
    every = _duration(m["every"], allow_zero=False) if "every" in m else None
    jitter = _duration(m["jitter"], allow_zero=True) if "jitter" in m else timedelta(0)
    if every is not None and jitter >= every:
        raise m["jitter"].error(
            f"jitter {m['jitter'].string()} must be shorter than the interval "
            f"{m['every'].string()}; lower the jitter"
        )
    return Schedule(every=every, cron=cron, jitter=jitter)


def _listen(n: Node) -> ListenAddress:
    text = n.string()
    try:
        return parse_listen(text)
    except ConfigError as exc:
        raise n.error(exc.detail) from None


def _notify(n: Node) -> tuple[WebhookConfig, ...]:
    m = n.mapping({"webhooks"})
    out: list[WebhookConfig] = []
    for item in m["webhooks"].sequence() if "webhooks" in m else []:
        w = item.mapping(WEBHOOK_KEYS, required=("url",))
        url = w["url"].secret()
        if not is_webhook_url(url.reveal()):
            # never echo the URL: it carries the webhook's secret
            raise w["url"].error("must be an http:// or https:// URL (value not shown: a secret)")
        events = frozenset(NotifyEvent)
        if "events" in w:
            items = w["events"].sequence()
            if not items:
                raise w["events"].error("the list is empty; leave it out for every event")
            events = frozenset(e.choice(NotifyEvent) for e in items)
        fmt = w["format"].choice(WebhookFormat) if "format" in w else WebhookFormat.JSON
        out.append(WebhookConfig(url=url, format=fmt, events=events))
    return tuple(out)
