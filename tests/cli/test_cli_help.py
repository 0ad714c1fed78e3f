"""Every command, group and subcommand (hidden ones too) has help with an example."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from cli_support import ENV
from click.testing import CliRunner

from renovation.cli import cli


def walk(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The path of every command under ``command``, itself first; hidden commands included."""
    yield path
    if isinstance(command, click.Group):
        context = click.Context(command)  # the top level lists its commands without importing them
        for name in sorted(set(command.list_commands(context)) | set(command.commands)):
            sub = command.get_command(context, name)
            assert sub is not None, name
            yield from walk(sub, (*path, name))


COMMANDS = list(walk(cli))


def test_the_walk_finds_the_commands_of_the_contract() -> None:
    found = {" ".join(path) for path in COMMANDS}

    assert {
        "", "demo", "compound register", "compound list", "compound show", "boq import", "demolition record",
        "demolition clear", "construction start", "construction complete", "construction accept",
        "construction handover", "inspect", "finding rectify", "finding close", "finding reopen",
        "material sample", "material result", "meter", "meter record", "meter correct", "variation", "score",
        "feedback", "feedback receive", "feedback resolve",
    } <= found


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "renovation")
def test_help_has_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], env=ENV)

    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "Example" in result.output, result.output
