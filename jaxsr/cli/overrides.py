"""`--config.KEY=VALUE` overrides of a config, as `jaxsr train` (and `launch/train.py`) take them.

    argv, overrides = split_overrides(["--workdir", "w", "--config.train.batch_size=8", "--config.task.ratio", "2"])
    # argv == ["--workdir", "w"]; overrides == [("train.batch_size", "8"), ("task.ratio", "2")]
    apply_overrides(config, overrides)   # config.train.batch_size == 8 (an int, as the field is)

A value is converted to the type of the field it replaces: int, float (an int is accepted), bool (true /
false / yes / no / 1 / 0; a bare `--config.KEY` is true), str (as written), a tuple or list (a Python
literal such as `(0.0, 15.0)` or `["a", "b"]`, or comma-separated items such as `0,15` or `white,pink`;
one item makes a one-item tuple; an item is converted to the type the field's items share). A field that
is None takes a Python literal, else the text. Any problem is an `OverrideError` of one line; an unknown
field names the nearest valid ones.
"""

from __future__ import annotations

import ast
import difflib
from typing import Any

PREFIX = "--config."
TRUE, FALSE = ("true", "yes", "1"), ("false", "no", "0")


class OverrideError(ValueError):
    """A `--config.KEY` override that names no field or whose value does not fit the field."""


def split_overrides(argv: list[str]) -> tuple[list[str], list[tuple[str, str | None]]]:
    """Take the `--config.KEY=VALUE` and `--config.KEY VALUE` overrides out of `argv`, in order.

    Returns (the other arguments, [(KEY, VALUE)]). VALUE is None for a bare `--config.KEY` followed by
    another option or by nothing (a boolean field set to true). Arguments after `--` are left alone."""
    rest, overrides = [], []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest += argv[i:]
            break
        if arg.startswith("--noconfig."):
            key = arg.removeprefix("--noconfig.").partition("=")[0]
            raise OverrideError(f"{arg}: write --config.{key}=false")
        if not arg.startswith(PREFIX):
            rest.append(arg)
            i += 1
            continue
        key, eq, value = arg.removeprefix(PREFIX).partition("=")
        if not key or not all(key.split(".")):
            raise OverrideError(
                f"{arg}: expected --config.SECTION.FIELD=VALUE, e.g. --config.train.batch_size=8"
            )
        if not eq:
            if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                value = argv[i + 1]
                i += 1
            else:
                value = None
        overrides.append((key, value))
        i += 1
    return rest, overrides


def config_keys(config, prefix: str = "") -> list[str]:
    """Every dotted field path of a ConfigDict, sections included (`train`, `train.batch_size`, ...)."""
    keys = []
    for k, v in config.items():
        keys.append(prefix + k)
        if _is_section(v):
            keys += config_keys(v, prefix + k + ".")
    return keys


def unknown_key_message(config, key: str) -> str:
    """The one line for an override `--config.KEY` that is not a field, with the nearest valid names."""
    valid = config_keys(config)
    parent = key.rpartition(".")[0]
    siblings = [k for k in valid if k.rpartition(".")[0] == parent]
    # Close matches over every field first (a misspelt section too), else the nearest in the same section.
    near = difflib.get_close_matches(key, valid, n=3, cutoff=0.75) or difflib.get_close_matches(
        key, siblings, n=3, cutoff=0.0
    )
    hint = f"; nearest valid names: {', '.join('config.' + k for k in near)}" if near else ""
    what = (
        f"config.{parent} has no field {key.rpartition('.')[2]!r}"
        if parent in valid
        else f"there is no config field config.{key}"
    )
    return f"unknown config key --config.{key}: {what}{hint}."


def apply_overrides(config, overrides: list[tuple[str, str | None]]) -> None:
    """Set each `(KEY, VALUE)` on `config`, converted to the field's type; OverrideError for the first bad one."""
    for key, raw in overrides:
        node = config
        *sections, field = key.split(".")
        for s in sections:
            node = node[s] if _is_section(node) and s in node else None
        if not _is_section(node) or field not in node:
            raise OverrideError(unknown_key_message(config, key))
        current = node[field]
        if _is_section(current):
            raise OverrideError(
                f"--config.{key} is a section, not a field; set its fields, e.g. "
                f"--config.{key}.{next(iter(current.keys()), 'FIELD')}=VALUE"
            )
        shown = f"--config.{key}" + ("" if raw is None else f"={raw}")
        if raw is None and not isinstance(current, bool):
            raise OverrideError(
                f"--config.{key} needs a value: --config.{key}=VALUE (config.{key} takes {_kind(current)})"
            )
        try:
            value = coerce(True if raw is None else raw, current)
        except ValueError as e:
            detail = f" ({e})" if str(e) else ""
            raise OverrideError(
                f"{shown}: config.{key} takes {_kind(current)}{detail}; got {raw!r}"
            ) from None
        node[field] = value


def coerce(raw: str | bool, current: Any) -> Any:
    """`raw` (command-line text) as a value of the type of `current`; ValueError (with a detail or none) if it
    does not fit."""
    if isinstance(raw, bool):
        return raw
    if isinstance(current, bool):  # before int: bool is an int
        if raw.strip().lower() in TRUE:
            return True
        if raw.strip().lower() in FALSE:
            return False
        raise ValueError()
    if isinstance(current, int):
        try:
            return int(raw)
        except ValueError:
            raise ValueError() from None
    if isinstance(current, float):
        try:
            return float(raw)
        except ValueError:
            raise ValueError() from None
    if isinstance(current, str):
        return raw
    if isinstance(current, (tuple, list)):
        return type(current)(_items(raw, current))
    if current is None:
        try:
            return ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            return raw
    raise ValueError("such a field cannot be set from the command line")


def _items(raw: str, current: tuple | list) -> list:
    """The items of a sequence override, converted to the type that `current`'s items share."""
    text = raw.strip()
    try:
        value = ast.literal_eval(text) if text else ()
    except (ValueError, SyntaxError):
        value = None
    if isinstance(value, (tuple, list)):
        items = list(value)
    elif value is not None and "," not in text:
        items = [value]
    else:  # comma-separated items that are not all literals: white,pink / /a/b
        items = []
        for piece in (s.strip() for s in text.split(",")):
            if not piece:
                raise ValueError("an empty item")
            try:
                items.append(ast.literal_eval(piece))
            except (ValueError, SyntaxError):
                items.append(piece)
    kinds = {type(v) for v in current}
    if len(kinds) == 1:
        kind = kinds.pop()
        converted = []
        for v in items:
            if kind is float and isinstance(v, int) and not isinstance(v, bool):
                v = float(v)
            elif kind is str and not isinstance(v, str):
                v = str(v)
            elif kind in (int, float) and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise ValueError(f"{v!r} is not a number")
            elif kind is int and isinstance(v, float):
                raise ValueError(f"{v!r} is not an integer")
            converted.append(v)
        items = converted
    return items


def _is_section(value: Any) -> bool:
    return hasattr(value, "items") and hasattr(value, "keys")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} such as {','.join(map(str, value)) or '()'}"
    return {int: "an integer", float: "a number", str: "text"}.get(
        type(value), f"a {type(value).__name__}"
    )
