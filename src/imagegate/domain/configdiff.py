"""PURE: the image-config changes that matter to a reviewer, between an old and a new digest.

:func:`config_facts` reads the few fields of an image config a reviewer cares about (user,
entrypoint, cmd, exposed ports, environment variable NAMES, working dir and the version,
revision and source labels) and :func:`diff_facts` keeps only those that differ, as a
:class:`ConfigChanges`. Environment VALUES are never read: they may hold secrets.

Everything here comes from a registry, so it is attacker-controlled: at most
:data:`MAX_ITEMS` items per field and :data:`MAX_TEXT` characters per item are kept; a field
cut short marks the changes ``truncated`` (a difference past the cut may be missed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

MAX_ITEMS = 64  # items kept per field (env names, ports, cmd words)
MAX_TEXT = 200  # characters kept per item
LABEL_PREFIX = "org.opencontainers.image."


class ConfigField(StrEnum):
    """A config field compared for review, in the order it is shown."""

    USER = "user"
    ENTRYPOINT = "entrypoint"
    CMD = "cmd"
    EXPOSED_PORTS = "exposed_ports"
    ENV_NAMES = "env_names"
    WORKING_DIR = "working_dir"
    VERSION = "label_version"
    REVISION = "label_revision"
    SOURCE = "label_source"

    @property
    def is_set(self) -> bool:
        """Order does not matter: a change lists what was removed and what was added."""
        return self in (ConfigField.EXPOSED_PORTS, ConfigField.ENV_NAMES)

    @property
    def heading(self) -> str:
        return _TITLES[self]


_TITLES = {
    ConfigField.USER: "user",
    ConfigField.ENTRYPOINT: "entrypoint",
    ConfigField.CMD: "cmd",
    ConfigField.EXPOSED_PORTS: "exposed ports",
    ConfigField.ENV_NAMES: "env names",
    ConfigField.WORKING_DIR: "working dir",
    ConfigField.VERSION: "version label",
    ConfigField.REVISION: "revision label",
    ConfigField.SOURCE: "source label",
}
_SCALARS = {
    ConfigField.USER: "User",
    ConfigField.WORKING_DIR: "WorkingDir",
}
_LISTS = {ConfigField.ENTRYPOINT: "Entrypoint", ConfigField.CMD: "Cmd"}
_LABELS = {
    ConfigField.VERSION: "version",
    ConfigField.REVISION: "revision",
    ConfigField.SOURCE: "source",
}


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One differing field. For a set field (:attr:`ConfigField.is_set`) ``before`` holds the
    items removed and ``after`` the items added; otherwise the whole old and new value (an
    empty tuple: unset)."""

    field: ConfigField
    before: tuple[str, ...]
    after: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return {"field": str(self.field), "before": list(self.before), "after": list(self.after)}

    def text(self) -> str:
        """One line, e.g. ``user: root -> nobody`` or ``env names: +TOKEN -DEBUG``."""
        if self.field.is_set:
            parts = [f"+{x}" for x in self.after] + [f"-{x}" for x in self.before]
            return f"{self.field.heading}: {' '.join(parts)}"
        return f"{self.field.heading}: {_show(self.before)} -> {_show(self.after)}"


@dataclass(frozen=True, slots=True)
class ConfigChanges:
    """The fields that differ between the old and the new config, in :class:`ConfigField`
    order; ``truncated``: a field was cut at the caps, so a difference may be missing."""

    changes: tuple[FieldChange, ...] = ()
    truncated: bool = False

    def __bool__(self) -> bool:
        return bool(self.changes) or self.truncated

    def as_json(self) -> dict[str, object]:
        return {"changes": [c.as_json() for c in self.changes], "truncated": self.truncated}

    @classmethod
    def from_json(cls, doc: object) -> ConfigChanges | None:
        """Back from :meth:`as_json`; None for anything else (an old row has no such field)."""
        if not isinstance(doc, Mapping) or not isinstance(doc.get("changes"), list):
            return None
        fields = {str(f): f for f in ConfigField}
        out: list[FieldChange] = []
        for item in doc["changes"][: len(ConfigField)]:
            if not isinstance(item, Mapping) or item.get("field") not in fields:
                continue
            before, after = _strings(item.get("before")), _strings(item.get("after"))
            out.append(FieldChange(fields[str(item["field"])], before, after))
        return cls(tuple(out), truncated=doc.get("truncated") is True)


@dataclass(frozen=True, slots=True)
class ConfigFacts:
    """The compared fields of one config, bounded; ``truncated``: some field was cut."""

    values: Mapping[ConfigField, tuple[str, ...]]
    truncated: bool = False


def _show(value: tuple[str, ...]) -> str:
    return " ".join(value) if value else "(unset)"


def _text(value: object) -> str:
    return str(value)[:MAX_TEXT]


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(_text(x) for x in value[:MAX_ITEMS])


def config_facts(config: Mapping[str, object]) -> ConfigFacts:
    """The compared fields of an image config document (its ``config`` object)."""
    inner = config.get("config")
    c: Mapping[str, object] = inner if isinstance(inner, Mapping) else {}
    values: dict[ConfigField, tuple[str, ...]] = {}
    cut = False
    for f, key in _SCALARS.items():
        v = c.get(key)
        values[f] = (_text(v),) if isinstance(v, str) and v else ()
        cut |= isinstance(v, str) and len(v) > MAX_TEXT
    for f, key in _LISTS.items():
        v = c.get(key)
        items = v if isinstance(v, list) else []
        values[f] = tuple(_text(x) for x in items[:MAX_ITEMS])
        cut |= len(items) > MAX_ITEMS or any(len(str(x)) > MAX_TEXT for x in items[:MAX_ITEMS])
    ports = c.get("ExposedPorts")
    port_keys = list(ports)[: MAX_ITEMS * 4] if isinstance(ports, Mapping) else []
    values[ConfigField.EXPOSED_PORTS] = tuple(sorted({_text(p) for p in port_keys})[:MAX_ITEMS])
    cut |= isinstance(ports, Mapping) and len(ports) > MAX_ITEMS
    env = c.get("Env")
    entries = env[: MAX_ITEMS * 4] if isinstance(env, list) else []
    names = sorted({_text(str(e).split("=", 1)[0]) for e in entries if isinstance(e, str)})
    values[ConfigField.ENV_NAMES] = tuple(names[:MAX_ITEMS])
    cut |= len(names) > MAX_ITEMS or (isinstance(env, list) and len(env) > len(entries))
    labels = c.get("Labels")
    found: Mapping[str, object] = labels if isinstance(labels, Mapping) else {}
    for f, short in _LABELS.items():
        v = found.get(LABEL_PREFIX + short)
        values[f] = (_text(v),) if isinstance(v, str) and v else ()
    return ConfigFacts(values, truncated=cut)


def diff_facts(old: ConfigFacts, new: ConfigFacts) -> ConfigChanges:
    """Only the fields that differ, in :class:`ConfigField` order."""
    out: list[FieldChange] = []
    for f in ConfigField:
        before, after = old.values.get(f, ()), new.values.get(f, ())
        if f.is_set:
            old_set, new_set = set(before), set(after)
            removed = tuple(x for x in before if x not in new_set)
            added = tuple(x for x in after if x not in old_set)
            if removed or added:
                out.append(FieldChange(f, removed, added))
        elif before != after:
            out.append(FieldChange(f, before, after))
    return ConfigChanges(tuple(out), truncated=old.truncated or new.truncated)


def diff_configs(old: Mapping[str, object], new: Mapping[str, object]) -> ConfigChanges:
    return diff_facts(config_facts(old), config_facts(new))
