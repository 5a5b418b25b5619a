"""docs/cli.md is generated from the commands and must be current; every command and option is documented."""

from __future__ import annotations

from pathlib import Path

from scanner.cli.docs import commands, render

CLI_MD = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def test_cli_md_is_current() -> None:
    assert CLI_MD.read_text(encoding="utf-8") == render(), "run: python -m scanner.cli.docs > docs/cli.md"


def test_every_command_and_option_has_help() -> None:
    names = [name for name, _ in commands()]
    assert {"scan", "classify", "eval", "calibrate", "report", "filter-lists", "compare"} <= set(names)
    text = CLI_MD.read_text(encoding="utf-8")
    for name, command in commands():
        assert f"## `tropescan {name}`" in text
        assert (command.help or "").strip(), name
        for param in command.params:
            if param.param_type_name == "option" and param.name != "help":
                assert (param.help or "").strip(), f"{name} {param.opts}"
