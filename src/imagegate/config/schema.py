"""The JSON Schema (draft 2020-12) of the allowlist file, for editors (``imagegate schema``).

Hand-written next to the loader; ``tests/unit/test_config.py`` keeps the two in sync (the
key sets are compared and the example file validates). The loader is the authority: it
also checks what a schema cannot say well (regexes compile, ranges parse, names collide).
"""

from __future__ import annotations

import json
from typing import Any

from imagegate.domain.allowlist import (
    DEFAULT_BACKUP_KEEP,
    HUB_DESCRIPTION_MAX,
    MAX_BACKUP_KEEP,
    NotifyEvent,
    Permission,
    Policy,
    TeamsMode,
    Visibility,
    WebhookFormat,
)

SCHEMA_ID = "https://imagegate.dev/schema/allowlist-v1.json"
Json = dict[str, Any]


def _enum(values: Any, description: str) -> Json:
    return {"enum": [str(v.value) for v in values], "description": description}


def _obj(properties: Json, description: str, required: tuple[str, ...] = ()) -> Json:
    out: Json = {
        "type": "object",
        "description": description,
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        out["required"] = list(required)
    return out


_STR: Json = {"type": "string", "minLength": 1}
_SECRET: Json = {
    "type": "string",
    "minLength": 1,
    "description": "a secret: use ${VARIABLE} or ${file:PATH}",
}
_BOOL: Json = {"type": "boolean"}
_DURATION: Json = {"type": "string", "pattern": r"^([0-9]+(ms|d|h|m|s))+$"}
_STRINGS: Json = {"oneOf": [_STR, {"type": "array", "items": _STR}]}
_TAG_OR_PIN: Json = {
    "type": "string",
    "pattern": r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(@[a-z0-9]+:[a-f0-9]+)?$",
    "description": "a tag, or tag@sha256:<digest> to pin it",
}

TAG_RULES = _obj(
    {
        "explicit": {"type": "array", "items": _TAG_OR_PIN, "description": "always selected"},
        "include": {**_STRINGS, "description": "regexes (re.search); any match keeps a tag"},
        "exclude": {**_STRINGS, "description": "regexes (re.search); any match drops a tag"},
        "semver": {"type": "string", "description": "npm-style range, e.g. '>=3.0 <4'"},
        "newest": {"type": "integer", "minimum": 1, "description": "keep the N newest"},
        "prerelease": {**_BOOL, "description": "let semver accept tags with a -suffix"},
    },
    "tag selection rules",
)
TAGS: Json = {
    "oneOf": [{"type": "array", "items": _TAG_OR_PIN, "minItems": 1}, TAG_RULES],
    "description": "explicit tags (a list) or selection rules (a mapping)",
}
PLATFORMS: Json = {
    "oneOf": [
        {"const": "all"},
        {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "pattern": r"^[a-z0-9]+/[a-z0-9]+(/v[0-9.]+)?$"},
        },
    ],
    "description": "'all', or a subset (rewrites the index, so the digest changes)",
}
TEAMS: Json = {
    "type": "object",
    "description": "team name -> permission ('none' removes a default grant)",
    "additionalProperties": {"enum": [*[str(p.value) for p in Permission], "none"]},
}
_COMMON: Json = {
    "platforms": PLATFORMS,
    "tags": TAGS,
    "visibility": _enum(Visibility, "repository visibility on Docker Hub"),
    "teams": TEAMS,
    "policy": _enum(Policy, "auto: mirror updates; review: approve first; pin: never change"),
    "prune": {**_BOOL, "description": "delete target tags that fall out of the selection"},
    "backup": {**_BOOL, "description": "keep the previous digest under a backup tag"},
    "backup_keep": {
        "type": "integer",
        "minimum": 1,
        "maximum": MAX_BACKUP_KEEP,
        "default": DEFAULT_BACKUP_KEEP,
        "description": "backup tags kept per mirrored tag (the newest); older ones are deleted",
    },
    "referrers": {
        "description": "signatures, SBOMs, attestations copied with the image: all, none, or "
        "a list of artifact types",
        "oneOf": [{"enum": ["all", "none"]}, {"type": "array", "items": _STR}],
    },
    "referrers_recheck": {
        "description": "how often a mirrored digest's referrers (signatures added later) are "
        "looked for again at the source: a duration (24h), or 0/off for never",
        "default": "24h",
        "oneOf": [
            _DURATION,
            {"enum": ["off", 0, False]},
        ],
    },
    "verify": {
        "description": "gates a new digest must pass before it is copied (docs/supply-chain.md)",
        "oneOf": [
            {"enum": ["none"]},
            _obj(
                {
                    "keys": {"type": "array", "items": _STR},
                    "keyless": _obj(
                        {
                            "trusted_root": _STR,
                            "identities": {
                                "type": "array",
                                "items": _obj(
                                    {"issuer": _STR, "subject": _STR, "subject_pattern": _STR},
                                    "an accepted signer",
                                    ("issuer",),
                                ),
                            },
                        },
                        "keyless signers and the trusted root they are checked against",
                        ("trusted_root", "identities"),
                    ),
                    "signatures": _BOOL,
                    "attestations": {"type": "array", "items": _STR},
                    "digests": {"enum": ["index", "children", "both"]},
                    "require_tlog": _BOOL,
                    "scanner": _obj(
                        {"command": {"type": "array", "items": _STR}, "timeout": _DURATION},
                        "an external scanner run on the source digest",
                        ("command",),
                    ),
                },
                "verification gates",
            ),
        ],
    },
}
IMAGE = _obj(
    {
        "source": {**_STR, "description": "source repository, without tag"},
        "target": {**_STR, "description": "target name in the namespace (default: last part)"},
        **_COMMON,
        "description": {"type": "string", "maxLength": HUB_DESCRIPTION_MAX},
        "reason": {"type": "string", "description": "why a non-community image is listed"},
    },
    "one allowlisted image",
    required=("source",),
)
TARGET = _obj(
    {
        "registry": {**_STR, "description": "host[:port]; docker.io for Docker Hub"},
        "namespace": {"type": "string", "description": "Hub organization, or a path prefix"},
        "hub": _obj(
            {
                "url": _STR,
                "username": _STR,
                "token": _SECRET,
                "teams_username": {
                    **_STR,
                    "description": "the organization name the teams_token signs in as "
                    "(default: target.namespace)",
                },
                "teams_token": {
                    **_SECRET,
                    "description": "an organization access token used only to list teams",
                },
                "team_ids": {
                    "type": "object",
                    "additionalProperties": {"type": "integer", "minimum": 1},
                    "description": "team name -> team id: grants without listing teams "
                    "(a personal access token cannot list them)",
                },
            },
            "Docker Hub API access",
        ),
        "access_management": _obj(
            {"enabled": _BOOL, "allow_official_images": _BOOL, "allow_verified_publishers": _BOOL},
            "Image Access Management settings of the organization",
        ),
        "manage_teams": _enum(TeamsMode, "exclusive removes grants not in the file"),
    },
    "where images are mirrored",
    required=("registry",),
)
REGISTRY = _obj(
    {
        "insecure": _BOOL,
        "ca_file": _STR,
        "username": _STR,
        "password": _SECRET,
        "max_concurrency": {"type": "integer", "minimum": 1, "maximum": 256},
        "rate_limit_floor": {"type": "integer", "minimum": 0},
        "request_timeout": _DURATION,
        "stall_window": _DURATION,
        "stall_min_kib": {"type": "integer", "minimum": 1, "maximum": 1024 * 1024},
    },
    "connection settings for one registry host",
)
WEBHOOK = _obj(
    {
        "url": _SECRET,
        "format": _enum(WebhookFormat, "payload shape"),
        "events": {"type": "array", "minItems": 1, "items": _enum(NotifyEvent, "event")},
    },
    "one webhook",
    required=("url",),
)

_NAMES: Json = {"type": "array", "items": _STR}
CONSOLE = _obj(
    {
        "approvers": {**_NAMES, "description": "users who may approve and reject"},
        "viewers": {**_NAMES, "description": "users who may look; '*' for every signed-in user"},
        "proxy": _obj(
            {
                "header": {**_STR, "description": "e.g. X-Forwarded-User"},
                "trusted": {**_NAMES, "minItems": 1, "description": "the proxy's addresses"},
            },
            "sign-in by an authenticating reverse proxy",
            required=("header", "trusted"),
        ),
        "users_file": {**_STR, "description": "name:scrypt$... lines (console hash-password)"},
        "secret_file": {**_STR, "description": "session key (default: beside the state)"},
        "listen": {"type": "string", "pattern": r"^(\[[0-9A-Fa-f:.]+\]|[^:\[\]\s]*):[0-9]+$"},
        "refresh": _DURATION,
        "secure_cookies": _BOOL,
        "session_ttl": _DURATION,
    },
    "the web console (`imagegate console`, and `imagegate watch`'s address)",
)

SCHEMA: Json = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "title": "imagegate allowlist",
    **_obj(
        {
            "version": {"const": 1},
            "target": TARGET,
            "registries": {"type": "object", "additionalProperties": REGISTRY},
            "defaults": _obj(_COMMON, "merged into every image"),
            "images": {"type": "array", "minItems": 1, "items": IMAGE},
            "state": {**_STR, "description": "SQLite state file"},
            "lock": {
                **_STR,
                "description": "lock file of review decisions (approve, reject, rollback), "
                "relative to this file; e.g. imagegate.lock",
            },
            "schedule": {
                **_obj(
                    {"every": _DURATION, "cron": _STR, "jitter": _DURATION},
                    "when `imagegate watch` runs",
                ),
                "oneOf": [{"required": ["every"]}, {"required": ["cron"]}],
            },
            "listen": {"type": "string", "pattern": r"^(\[[0-9A-Fa-f:.]+\]|[^:\[\]\s]*):[0-9]+$"},
            "notify": _obj({"webhooks": {"type": "array", "items": WEBHOOK}}, "notifications"),
            "console": CONSOLE,
        },
        "imagegate allowlist file",
        required=("version", "target", "images"),
    ),
}


def schema_json(indent: int = 2) -> str:
    """The schema as JSON text."""
    return json.dumps(SCHEMA, indent=indent)
