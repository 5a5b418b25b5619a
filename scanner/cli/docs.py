"""docs/cli.md, generated from the commands' own definitions (their help texts, arguments and options), so that
the page cannot drift from the code: ``python -m scanner.cli.docs > docs/cli.md``; a test checks it is current."""

from __future__ import annotations

import sys
from typing import Any

import typer.main

# typer carries its own copy of click's classes: they are used by duck typing (``commands``, ``param_type_name``).


def _option_row(param: Any) -> str:
    names = ", ".join(f"`{n}`" for n in [*param.opts, *param.secondary_opts])
    help_text = " ".join((getattr(param, "help", None) or "").split())
    default = param.default
    shown = "" if default in (None, False, ()) or callable(default) else f" Default: `{default}`."
    flag = " (flag)" if getattr(param, "is_flag", False) else ""
    return f"| {names}{flag} | {help_text.replace('|', '/')}{shown} |"


def _command(name: str, command: Any) -> list[str]:
    lines = [f"## `tropescan {name}`", "", " ".join((command.help or "").split()), ""]
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    options = [p for p in command.params if p.param_type_name == "option" and p.name != "help"]
    if arguments:
        usage = " ".join(f"{(a.name or '').upper()}{'...' if a.nargs == -1 else ''}" for a in arguments)
        lines += [f"Arguments: `{usage}`", ""]
    if options:
        lines += ["| option | meaning |", "|---|---|", *(_option_row(o) for o in options), ""]
    return lines


def _walk(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for name in sorted(group.commands):
        command = group.commands[name]
        full = f"{prefix}{name}"
        if hasattr(command, "commands"):
            out += _walk(command, f"{full} ")
        else:
            out.append((full, command))
    return out


def commands() -> list[tuple[str, Any]]:
    """Every command of the CLI, sub-commands included, sorted by name."""
    from scanner.cli.app import _register, app

    _register()
    return _walk(typer.main.get_command(app))


def render() -> str:
    lines = [
        "# Command-line reference",
        "",
        "Generated from the commands themselves (`python -m scanner.cli.docs > docs/cli.md`; a test keeps it current).",
        "Every command also answers `--help`.",
        "",
    ]
    for name, command in commands():
        lines += _command(name, command)
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
