"""Start-up check of the files administrators edit (routing rules and deadlines, reply templates).

A malformed file stops ``gopy serve`` / the app / ``gopy worker`` before anything runs, with a message naming the
file and the line, instead of failing on the first citizen's message.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml


class DataFileError(ValueError):
    """A data file is malformed: the message names the file and, where there is one, the line."""


def routing_path(data_dir: Path) -> Path:
    return data_dir / "routing.yml"


def templates_path(data_dir: Path) -> Path:
    return data_dir / "templates" / "vi.yml"


def check_data_files(data_dir: Path) -> None:
    """Load every administrator-edited file the way the running code does; raise ``DataFileError`` if one is bad."""
    from backend.domain.routing import load_rules
    from backend.domain.sla import load_sla
    from handlers.texts import Texts

    routing, templates = routing_path(data_dir), templates_path(data_dir)
    routing_tree = _compose(routing)
    try:
        load_rules(routing)
        load_sla(routing)
    except ValueError as exc:
        raise DataFileError(_with_lines(str(exc), routing, routing_tree, _sla_line)) from exc
    templates_tree = _compose(templates)
    try:
        Texts.load(templates)
    except ValueError as exc:
        raise DataFileError(_with_lines(str(exc), templates, templates_tree, _template_line)) from exc


def _compose(path: Path) -> yaml.Node | None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read the file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise DataFileError(f"{path} line {line}: not valid UTF-8 text") from exc
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = exc.problem or exc.context or "cannot parse"
        if exc.context and exc.problem:
            started = exc.context_mark
            what += f" ({exc.context}" + (f" that starts at line {started.line + 1})" if started else ")")
        raise DataFileError(f"{path}{where}: invalid YAML: {what}") from exc
    except yaml.YAMLError as exc:
        raise DataFileError(f"{path}: invalid YAML: {exc}") from exc


def _child(node: yaml.Node | None, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return k, v
    return None


def _line_at(tree: yaml.Node | None, keys: list[str]) -> int | None:
    """The line of the deepest key along ``keys`` that exists in the file."""
    node, line = tree, None
    for key in keys:
        found = _child(node, key)
        if found is None:
            break
        line = found[0].start_mark.line + 1
        node = found[1]
    return line


def _sla_line(message: str, tree: yaml.Node | None) -> int | None:
    path = re.search(r"\b(sla(?:\.[\w-]+)*)", message)
    return _line_at(tree, path.group(1).split(".")) if path else None


def _template_line(problem: str, tree: yaml.Node | None) -> int | None:
    key = re.search(r"'([^']+)'", problem)
    if key is None:
        return None
    if problem.startswith("missing status name"):
        return _line_at(tree, ["status_names"])
    if problem.startswith("missing category name"):
        return _line_at(tree, ["category_names"])
    return _line_at(tree, [key.group(1)])


def _with_lines(message: str, path: Path, tree: yaml.Node | None, locate: Any) -> str:
    """Give every problem in ``message`` its line when the loader did not."""
    name = str(path)
    if not message.startswith(name):
        return f"{name}: {message}"
    rest = message[len(name) :]
    if rest.startswith(" line "):
        return message
    if rest.startswith(": "):
        problems = rest[2:].split("; ")
        lines = [locate(problem, tree) for problem in problems]
        if len(problems) == 1:
            return f"{name} line {lines[0]}: {problems[0]}" if lines[0] else message
        return f"{name}: " + "; ".join(f"line {n}: {p}" if n else p for n, p in zip(lines, problems, strict=True))
    line = locate(rest.strip(), tree)
    return f"{name} line {line}: {rest.strip()}" if line else message
