"""The README stays true: every command, option and configuration key is documented there (as sqlite-utils
checks its own docs), and its claims about what a dry build writes hold."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest

from digest import config, issuefile, pipeline
from digest.cli import main

from .conftest import LETTER_DATE, ROOT
from .feedserver import FeedServer

README = (ROOT / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group = main, prefix: str = "digest") -> Iterator[tuple[str, click.Command]]:
    """Every command under the group, with its full name ("digest send", "digest subscribers add")."""
    for name, command in sorted(group.commands.items()):
        yield f"{prefix} {name}", command
        if isinstance(command, click.Group):
            yield from commands(command, f"{prefix} {name}")


COMMANDS = list(commands())
OPTIONS = sorted({(name, opt) for name, command in COMMANDS for param in command.params
                  if isinstance(param, click.Option) for opt in param.opts if opt.startswith("--")})


@pytest.mark.parametrize("name", [name for name, _ in COMMANDS])
def test_every_command_is_in_the_readme(name: str) -> None:
    assert re.search(rf"`{re.escape(name)}\b|^{re.escape(name)}\b", README, re.M), f"{name} is not in README.md"


@pytest.mark.parametrize(("command", "option"), OPTIONS)
def test_every_option_is_in_the_readme(command: str, option: str) -> None:
    assert re.search(rf"{re.escape(option)}(?![\w-])", README), f"{command} {option} is not in README.md"


def config_keys() -> list[tuple[str, str]]:
    """Every key of sources.toml and of the issue file, with its table, as the dataclasses declare them."""
    return [(f"sources.toml [{table}]", key) for table, key, _help in config.declared_keys()] + [
        (f"issue file {table}", key) for table, key, _help in issuefile.declared_keys()]


@pytest.mark.parametrize(("table", "key"), config_keys())
def test_every_configuration_key_is_in_the_readme(table: str, key: str) -> None:
    assert f"`{key}`" in README, f"{table} {key} is not in README.md"


def test_a_dry_build_writes_nothing(tmp_path: Path) -> None:
    """`digest check` and `digest preview` build without writing: no outbox, no cache, no health record."""
    project = tmp_path / "project"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(".git", ".venv", "outbox", ".digest-cache",
                                                                 "__pycache__", "*.egg-info", "test-artifacts"))
    before = snapshot(project)
    built = pipeline.build(config.load(project / "sources.toml"), LETTER_DATE, out=None)
    assert built.written == () and built.rendered.html
    assert snapshot(project) == before


def test_a_dry_build_from_the_web_writes_only_the_sources_last_good_copies(
        write_config: Callable[..., Path], server: FeedServer) -> None:
    """With a web source a dry build keeps its fresh copy in the cache (that is the cache's job), nothing else:
    no outbox, no health record (a source failing in previews is not 'failed 3 times in a row')."""
    path = write_config(f'[[source]]\nname = "web"\nsection = "cuf"\nurl = "{server.url("/feed/web")}"\n')
    before = snapshot(path.parent)
    pipeline.build(config.load(path), LETTER_DATE, out=None)
    added = sorted(set(snapshot(path.parent)) - set(before))
    assert added and all(name.startswith(".digest-cache/") for name in added), added
    assert not any(name.endswith("health.json") for name in added)


def snapshot(folder: Path) -> dict[str, int]:
    """Every file below the folder with its modification time."""
    return {os.path.relpath(os.path.join(top, name), folder): os.stat(os.path.join(top, name)).st_mtime_ns
            for top, _dirs, names in os.walk(folder) for name in names}
