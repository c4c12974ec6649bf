"""The configuration reference in README.md, generated from the code that reads the configuration.

Environment variables come from `Settings` (alias, description, default, constraints); command
lines from the `kros-mcp` argument parser as it stands when this runs. Regenerate the README's
section with:

    python -m scripts.config_reference --write README.md
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from collections.abc import Iterator, Sequence
from pathlib import Path

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from kros_mcp.krosai import looks_secret

__all__ = ["END_MARKER", "START_MARKER", "config_reference", "is_secret", "main", "replace_section"]

START_MARKER = "<!-- config-reference:start -->"
END_MARKER = "<!-- config-reference:end -->"

# Constraint objects in a field's metadata (annotated_types) carry one of these attributes.
_BOUNDS = (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤"))


# -- environment variables -------------------------------------------------------------------


def _members(annotation: object) -> list[object]:
    """The types of an annotation, with `X | None` unpacked and None left out."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def is_secret(name: str, field: FieldInfo) -> bool:
    """Secret settings: typed SecretStr, or named like a secret (kros_mcp's one rule for names)."""
    return SecretStr in _members(field.annotation) or looks_secret(name)


def _literal(value: object) -> str:
    """A value as it is written in the environment."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _cell(text: str) -> str:
    """Text fit for one cell of a Markdown table."""
    return " ".join(text.split()).replace("|", "\\|")


def _default(name: str, field: FieldInfo) -> str:
    if is_secret(name, field):
        return "*secret*"
    if field.default_factory is not None:
        return "*computed*"
    if field.default is PydanticUndefined:
        return "*required*"
    if field.default is None:
        return "unset"
    return f"`{_literal(field.default)}`"


def _values(field: FieldInfo) -> str:
    """What a variable accepts: its type or choices, and its bounds."""
    kinds = _members(field.annotation)
    kind = kinds[0] if len(kinds) == 1 else None
    if typing.get_origin(kind) is typing.Literal:
        return ", ".join(f"`{_literal(v)}`" for v in typing.get_args(kind))
    if kind is bool:
        return "`true`, `false`"
    words = {int: "integer", float: "number", str: "text", Path: "path", SecretStr: "text"}
    text = words.get(kind, "text")  # type: ignore[arg-type]
    limits = []
    for meta in field.metadata:
        for attr, sign in _BOUNDS:
            if getattr(meta, attr, None) is not None:
                limits.append(f"{sign} {_literal(getattr(meta, attr))}")
        shortest, longest = getattr(meta, "min_length", None), getattr(meta, "max_length", None)
        if shortest:
            limits.append(f"at least {shortest} character{'s' if shortest > 1 else ''}")
        if longest is not None:
            limits.append(f"at most {longest} characters")
    return ", ".join([text, *limits])


def _flags_by_setting(parser: argparse.ArgumentParser) -> dict[str, list[str]]:
    """Setting name -> `command --flag` for the flags named after a setting (they override it)."""
    found: dict[str, list[str]] = {}
    for path, sub in _commands(parser):
        for action in sub._actions:
            for option in action.option_strings:
                if option.startswith("--"):
                    found.setdefault(option[2:].replace("-", "_"), []).append(
                        " ".join(["kros-mcp", *path[1:], option])
                    )
    return found


def _environment_section(parser: argparse.ArgumentParser) -> list[str]:
    from kros_mcp.config import Settings

    flags = _flags_by_setting(parser)
    lines = [
        "### Environment variables",
        "",
        "Read once at start-up. An empty value counts as unset. A flag named in the last column "
        "overrides its variable. No default is shown for secrets (keys, tokens and files of them): "
        "*secret*. *computed*: worked out at start-up, as the meaning says.",
        "",
        "| variable | default | values | meaning | flag |",
        "|---|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        variable = field.alias or name.upper()
        flag = ", ".join(f"`{f}`" for f in flags.get(name, []))
        lines.append(
            f"| `{variable}` | {_default(name, field)} | {_cell(_values(field))} | "
            f"{_cell(field.description or '')} | {flag} |"
        )
    return lines


# -- command line ------------------------------------------------------------------------------


def _subparsers(parser: argparse.ArgumentParser) -> Iterator[argparse._SubParsersAction]:  # type: ignore[type-arg]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield action


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ("kros-mcp",)
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every (sub)command, depth first, in the order the parser declares them; aliases once."""
    yield path, parser
    for action in _subparsers(parser):
        seen: set[int] = set()
        for name, sub in action.choices.items():
            if id(sub) not in seen:
                seen.add(id(sub))
                yield from _commands(sub, (*path, name))


def _summaries(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Subcommand name -> its one-line help and aliases."""
    summaries = {}
    for action in _subparsers(parser):
        aliases: dict[int, list[str]] = {}
        for name, sub in action.choices.items():
            aliases.setdefault(id(sub), []).append(name)
        for choice in action._choices_actions:
            names = aliases.get(id(action.choices.get(choice.dest)), [choice.dest])
            also = f" (also: {', '.join(f'`{n}`' for n in names[1:])})" if len(names) > 1 else ""
            summaries[choice.dest] = (choice.help or "") + also
    return summaries


def _argument(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """What follows an option: its choices or a placeholder (nothing for switches and positionals)."""
    if not action.option_strings or action.nargs == 0:
        return ""
    if action.choices is not None:
        return ", ".join(f"`{c}`" for c in action.choices)
    return f"`{parser._get_formatter()._format_args(action, action.dest.upper())}`"


def _meaning(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    text = parser._get_formatter()._expand_help(action) if action.help else ""
    if not action.option_strings and action.nargs in ("?", "*"):
        text = f"optional: {text}"
    default = action.default
    shown = not (
        default is None
        or default is False
        or default == argparse.SUPPRESS
        or (isinstance(default, (list, tuple)) and not default)
    )
    if action.option_strings and action.nargs != 0 and shown and "default" not in text:
        text = f"{text} (default: {default})".strip()
    return _cell(text)


_DEFAULT_GROUPS = ("positional arguments", "options", "optional arguments")


def _options_table(
    parser: argparse.ArgumentParser, actions: Sequence[argparse.Action]
) -> list[str]:
    rows = []
    for action in actions:
        if action.help == argparse.SUPPRESS or isinstance(
            action, (argparse._HelpAction, argparse._SubParsersAction)
        ):
            continue
        name = (
            ", ".join(f"`{o}`" for o in action.option_strings)
            or f"`{action.metavar or action.dest}`"
        )
        rows.append(f"| {name} | {_argument(parser, action)} | {_meaning(parser, action)} |")
    if not rows:
        return []
    return ["| argument | value | meaning |", "|---|---|---|", *rows]


def _command_line_section(parser: argparse.ArgumentParser) -> list[str]:
    lines = [
        "### Command line",
        "",
        "Every command also takes `-h` / `--help`.",
    ]
    for path, sub in _commands(parser):
        title = " ".join(path)
        lines += ["", f"#### `{title}`", ""]
        summary = _summaries(_parser_at(parser, path[:-1])).get(path[-1]) if len(path) > 1 else None
        about = sub.description or summary or ""
        if about:
            lines += [_cell(about), ""]
        plain = [
            a for g in sub._action_groups if g.title in _DEFAULT_GROUPS for a in g._group_actions
        ]
        table = _options_table(sub, plain)
        if table:
            lines += [*table, ""]
        for group in sub._action_groups:
            table = (
                _options_table(sub, group._group_actions)
                if group.title not in _DEFAULT_GROUPS
                else []
            )
            if table:
                lines += [f"{_cell(group.title or '').capitalize()}:", "", *table, ""]
        if sub.epilog:
            lines += [_cell(sub.epilog), ""]
        commands = _summaries(sub)
        if commands:
            lines += ["| command | what it does |", "|---|---|"]
            lines += [f"| `{name}` | {_cell(text)} |" for name, text in commands.items()]
            lines.append("")
        while lines[-1] == "":
            lines.pop()
    return lines


def _parser_at(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> argparse.ArgumentParser:
    """The (sub)parser at `path`, e.g. ("kros-mcp", "serve")."""
    for found, sub in _commands(parser):
        if found == path:
            return sub
    raise KeyError(" ".join(path))


# -- the document --------------------------------------------------------------------------------


def config_reference() -> str:
    """The README's configuration reference, in Markdown, without the markers."""
    from kros_mcp.cli.main import _build_parser

    parser = _build_parser()
    lines = [*_environment_section(parser), "", *_command_line_section(parser)]
    return "\n".join(lines) + "\n"


def replace_section(document: str, section: str) -> str:
    """`document` with the text between the markers replaced by `section`."""
    start, end = document.find(START_MARKER), document.find(END_MARKER)
    if start < 0 or end < start:
        raise ValueError(
            f"the document needs the markers {START_MARKER} and {END_MARKER}, in that order"
        )
    head = document[: start + len(START_MARKER)]
    return f"{head}\n{section}{document[end:]}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.config_reference",
        description="Print the configuration reference, or write it between the markers of a Markdown file.",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--write", metavar="FILE", type=Path, help="rewrite the generated part of FILE"
    )
    target.add_argument(
        "--check",
        metavar="FILE",
        type=Path,
        help="exit with status 1 if the generated part of FILE is out of date",
    )
    args = parser.parse_args(argv)
    section = config_reference()
    target = args.write or args.check
    if target is None:
        sys.stdout.write(section)
        return 0
    document = target.read_text(encoding="utf-8")
    try:
        updated = replace_section(document, section)
    except ValueError as exc:
        print(f"{target}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if updated != document:
            print(
                f"{target} is out of date: run python -m scripts.config_reference --write {target}",
                file=sys.stderr,
            )
            return 1
        return 0
    if updated != document:
        target.write_text(updated, encoding="utf-8")
        print(f"{target}: configuration reference updated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
