"""Plain edits of plan data: step paths, reading and setting fields, adding and moving steps.

The builder keeps the plan as the JSON a user would write (a dict) and
changes it only through these functions, so every edit is a small, testable
transformation. A step is addressed by its plan path, as the loader's
messages name it: ``steps[0]``, ``steps[0].sub_steps[1]``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import yaml

Key = str | int

STEP_LISTS = ("steps", "sub_steps", "parallel", "otherwise")

_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]")


def parse_path(text: str) -> list[Key]:
    """``steps[0].sub_steps[1]`` → ``["steps", 0, "sub_steps", 1]``."""
    parts: list[Key] = []
    for name, index in _PART.findall(text):
        parts.append(int(index) if index else name)
    return parts


def format_path(parts: list[Key] | tuple[Key, ...]) -> str:
    """The inverse of :func:`parse_path`."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def plan_yaml(plan: dict[str, Any]) -> str:
    """The plan as YAML, keys in the order written."""
    return yaml.safe_dump(plan, sort_keys=False, allow_unicode=True, width=100)


def normalized(plan: dict[str, Any]) -> dict[str, Any]:
    """A copy whose root steps are a ``steps`` list (a single ``step:`` becomes ``steps[0]``)."""
    plan = copy.deepcopy(plan)
    if "steps" not in plan and isinstance(plan.get("step"), dict):
        step = plan.pop("step")
        step.setdefault("name", "main")
        plan["steps"] = [step]
    plan.setdefault("steps", [])
    return plan


def get_in(data: Any, parts: list[Key] | tuple[Key, ...]) -> Any:
    """The value at ``parts`` (None when any part is missing)."""
    node = data
    for part in parts:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def set_in(data: dict[str, Any], parts: list[Key] | tuple[Key, ...], value: Any) -> None:
    """Set (or, with None, remove) the value at ``parts``; emptied objects are removed too."""
    if not parts:
        raise ValueError("an empty path names no field")
    trail: list[tuple[Any, Key]] = []
    node: Any = data
    for part in parts[:-1]:
        child = node[part] if isinstance(part, int) else node.get(part)
        if child is None:
            if value is None:
                return
            child = {}
            node[part] = child
        trail.append((node, part))
        node = child
    last = parts[-1]
    if value is None:
        if isinstance(node, dict):
            node.pop(last, None)
        for parent, key in reversed(trail):  # drop objects the removal emptied
            if isinstance(key, str) and parent[key] == {}:
                del parent[key]
            else:
                break
    else:
        node[last] = value


def _visit(step: Any, path: str, depth: int) -> Iterator[tuple[str, int, dict[str, Any]]]:
    if not isinstance(step, dict):
        return
    yield path, depth, step
    for key in ("sub_steps", "parallel"):
        for index, child in enumerate(step.get(key) or []):
            yield from _visit(child, f"{path}.{key}[{index}]", depth + 1)
    for number, branch in enumerate(step.get("choice") or []):
        for index, child in enumerate((branch or {}).get("steps") or []):
            yield from _visit(child, f"{path}.choice[{number}].steps[{index}]", depth + 1)
    for index, child in enumerate(step.get("otherwise") or []):
        yield from _visit(child, f"{path}.otherwise[{index}]", depth + 1)


def walk_steps(plan: dict[str, Any]) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """Every step of the plan with its path and depth, parents before children."""
    for index, step in enumerate(plan.get("steps") or []):
        yield from _visit(step, f"steps[{index}]", 0)


def auth_steps(plan: dict[str, Any]) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """The steps of a ``flow`` auth (``auth.steps[i]``), which obtain the token."""
    auth = plan.get("auth")
    if isinstance(auth, dict) and auth.get("type") == "flow":
        for index, step in enumerate(auth.get("steps") or []):
            yield from _visit(step, f"auth.steps[{index}]", 1)


def all_steps(plan: dict[str, Any]) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """The plan's steps, then its auth steps."""
    yield from walk_steps(plan)
    yield from auth_steps(plan)


def step_names(plan: dict[str, Any]) -> set[str]:
    return {str(step["name"]) for _, _, step in all_steps(plan) if step.get("name")}


def fresh_name(plan: dict[str, Any], base: str = "step", taken: set[str] | None = None) -> str:
    """A step name not used in the plan (nor in ``taken``): ``step_1``, ``step_2``…"""
    used = step_names(plan) | (taken or set())
    number = 1
    while f"{base}_{number}" in used:
        number += 1
    return f"{base}_{number}"


def container(path: str) -> tuple[list[Key], int]:
    """The list holding the step at ``path`` and its index in it."""
    parts = parse_path(path)
    if not parts or not isinstance(parts[-1], int):
        raise ValueError(f"{path!r} is not a step path")
    return parts[:-1], parts[-1]


def new_step(plan: dict[str, Any], base: str = "step", taken: set[str] | None = None) -> dict:
    """An HTTP step with a fresh name and a URL starting at the config's base URL."""
    url = "{config.base_url}/" if "base_url" in (plan.get("config") or {}) else "https://"
    return {"name": fresh_name(plan, base, taken), "url": url}


def add_step(plan: dict[str, Any], after: str | None = None) -> str:
    """A new HTTP step after ``after`` among its siblings (root steps, a group's steps, a
    branch's steps…; at the end of the root steps without it); returns its path."""
    return _insert(plan, after, new_step(plan))


def _insert(plan: dict[str, Any], after: str | None, step: dict[str, Any]) -> str:
    if after is None:
        steps = plan.setdefault("steps", [])
        steps.append(step)
        return f"steps[{len(steps) - 1}]"
    parts, index = container(after)
    siblings = get_in(plan, parts)
    siblings.insert(index + 1, step)
    return format_path([*parts, index + 1])


def add_child(plan: dict[str, Any], list_path: str) -> str:
    """A new HTTP step at the end of the step list at ``list_path`` (``steps[0].parallel``,
    ``steps[0].choice[1].steps``, ``steps[0].otherwise``, ``auth.steps``); returns its path."""
    parts = parse_path(list_path)
    children = get_in(plan, parts)
    if children is None:
        set_in(plan, parts, [])
        children = get_in(plan, parts)
    children.append(new_step(plan))
    return format_path([*parts, len(children) - 1])


def add_control(plan: dict[str, Any], after: str | None, kind: str) -> str:
    """A new parallel group or choice (``kind``) after ``after``; a sub-step or auth step
    cannot be one, so then it goes after the root step holding it. Returns its path."""
    if after is not None and ("sub_steps" in after or after.startswith("auth")):
        after = f"steps[{root_index(after)}]" if after.startswith("steps") else None
    first = new_step(plan)
    if kind == "parallel":
        second = new_step(plan, taken={first["name"]})
        step: dict[str, Any] = {
            "name": fresh_name(plan, "group"),
            "parallel": [first, second],
            "on_error": "wait",
        }
    elif kind == "choice":
        branch = {"when": "`true`", "steps": [first]}
        step = {"name": fresh_name(plan, "choice"), "choice": [branch]}
    else:
        raise ValueError(f"unknown kind of step {kind!r}: parallel or choice")
    return _insert(plan, after, step)


def add_branch(plan: dict[str, Any], choice: str) -> str:
    """A new branch (``when`` and one step) at the end of the choice at ``choice``; returns
    the path of the branch's step."""
    step = get_in(plan, parse_path(choice))
    branches = step.setdefault("choice", [])
    branches.append({"when": "`false`", "steps": [new_step(plan)]})
    return f"{choice}.choice[{len(branches) - 1}].steps[0]"


def delete_branch(plan: dict[str, Any], choice: str, index: int) -> str:
    """Remove branch ``index`` of the choice at ``choice`` with its steps."""
    del get_in(plan, parse_path(choice))["choice"][index]
    return choice


def move_branch(plan: dict[str, Any], choice: str, index: int, by: int) -> str:
    """Move branch ``index`` of the choice ``by`` places (branch order is test order)."""
    branches = get_in(plan, parse_path(choice))["choice"]
    target = max(0, min(len(branches) - 1, index + by))
    branches.insert(target, branches.pop(index))
    return choice


def add_sub_step(plan: dict[str, Any], parent: str) -> str:
    """A new fanout sub-step under the step at ``parent``; returns its path."""
    step = get_in(plan, parse_path(parent))
    if not isinstance(step, dict) or "parallel" in step or "choice" in step:
        raise ValueError("only an HTTP step fans out: select one (not a group or a choice)")
    children = step.setdefault("sub_steps", [])
    children.append({"name": fresh_name(plan, "detail"), "url": step.get("url", "https://")})
    return f"{parent}.sub_steps[{len(children) - 1}]"


def duplicate_step(plan: dict[str, Any], path: str) -> str:
    """A copy of the step (and its nested steps, renamed) right after it; returns its path."""
    parts, index = container(path)
    siblings = get_in(plan, parts)
    copied = copy.deepcopy(siblings[index])
    taken: set[str] = set()

    def rename(step: Any) -> None:
        if isinstance(step, dict):
            if step.get("name"):
                step["name"] = fresh_name(plan, str(step["name"]), taken)
                taken.add(step["name"])
            for key in ("sub_steps", "parallel", "otherwise"):
                for child in step.get(key) or []:
                    rename(child)
            for branch in step.get("choice") or []:
                for child in (branch or {}).get("steps") or []:
                    rename(child)

    rename(copied)
    siblings.insert(index + 1, copied)
    return format_path([*parts, index + 1])


def delete_step(plan: dict[str, Any], path: str) -> str | None:
    """Remove the step; returns the path to select next (its neighbour or its parent; ''
    for the plan settings when the last auth step goes). An emptied ``sub_steps`` or
    ``otherwise`` list is removed; an emptied group or branch is left for the loader to
    flag (it needs a step)."""
    parts, index = container(path)
    siblings = get_in(plan, parts)
    del siblings[index]
    if siblings:
        return format_path([*parts, min(index, len(siblings) - 1)])
    if parts[-1] in ("sub_steps", "otherwise"):
        set_in(plan, parts, None)
    if parts[0] == "auth":
        return ""
    if len(parts) >= 4 and parts[-3] == "choice":  # a branch's steps: select the choice
        return format_path(parts[:-3])
    if len(parts) > 1:
        return format_path(parts[:-1])
    return None


def move_step(plan: dict[str, Any], path: str, by: int) -> str:
    """Move the step ``by`` places among its siblings; returns its new path."""
    parts, index = container(path)
    siblings = get_in(plan, parts)
    target = max(0, min(len(siblings) - 1, index + by))
    siblings.insert(target, siblings.pop(index))
    return format_path([*parts, target])


def root_index(path: str) -> int:
    """Index of the root step that holds the step at ``path``."""
    parts = parse_path(path)
    if len(parts) < 2 or parts[0] != "steps":
        return 0  # an auth step runs before the first step
    return int(parts[1])


def dotted_name(plan: dict[str, Any], path: str) -> str:
    """The step path the engine and capture use: ``items.detail`` for ``steps[0].sub_steps[0]``."""
    parts = parse_path(path)
    names: list[str] = []
    for end in range(2, len(parts) + 1):
        if isinstance(parts[end - 1], int) and parts[end - 2] in STEP_LISTS:
            step = get_in(plan, parts[:end])
            if isinstance(step, dict):
                names.append(str(step.get("name") or f"step_{int(parts[end - 1]) + 1}"))
    return ".".join(names)
