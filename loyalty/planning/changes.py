"""What a programme file changes against the one in force, section by section: the points
settings, earning rules, tiers, rewards and offers (items of a list are matched by key)."""

from __future__ import annotations

from typing import Any

from loyalty.programme.spec import ProgrammeFile

# (section label, path in the file's JSON form); lists of keyed items are compared by key.
SECTIONS = (
    ("programme", ("programme",)),
    ("points", ("points",)),
    ("earning", ("earning", "base")),
    ("earning cap", ("earning", "caps")),
    ("earning rule", ("earning", "rules")),
    ("tiers", ("tiers",)),
    ("tier", ("tiers", "levels")),
    ("reward", ("rewards",)),
    ("offer", ("offers",)),
)


def _at(data: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of a JSON value by dotted path (lists of scalars are one leaf)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "levels" and prefix == "":
                continue  # tiers' levels are compared one by one
            out.update(_flat(item, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): value}


def _fields(label: str, key: str, old: Any, new: Any) -> list[str]:
    before, after = _flat(old), _flat(new)
    return [
        f"~ {label} {key}: {name}: {before.get(name)!r} -> {after.get(name)!r}".replace(
            f"{label} : ", f"{label}: "
        )
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    ]


def changes(old: ProgrammeFile, new: ProgrammeFile) -> list[str]:
    """One line per change: `+` added, `-` removed, `~` a setting that differs."""
    before, after = old.model_dump(mode="json"), new.model_dump(mode="json")
    lines: list[str] = []
    for label, path in SECTIONS:
        was, now = _at(before, path), _at(after, path)
        if isinstance(was, list) or isinstance(now, list):
            lines += _keyed(label, was or [], now or [])
        elif was != now:
            lines += _fields(label, "", was or {}, now or {})
    return lines


def _keyed(label: str, was: list[Any], now: list[Any]) -> list[str]:
    old = {item.get("key", str(i)): item for i, item in enumerate(was)}
    new = {item.get("key", str(i)): item for i, item in enumerate(now)}
    lines = [f"- {label} {key}" for key in old if key not in new]
    lines += [f"+ {label} {key}" for key in new if key not in old]
    for key in old.keys() & new.keys():
        if old[key] != new[key]:
            lines += _fields(label, key, old[key], new[key])
    return sorted(lines, key=lambda line: line[2:])
