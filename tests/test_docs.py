"""The docs stay true: every command, option and configuration key is documented in docs/ (as sqlite-utils checks
its own docs), every module is in the module map, every link leads somewhere, the README stays a short guide
whose first two commands are `make run` and `make test`, and the claims about what a dry build writes hold."""

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

README_PATH = ROOT / "README.md"
README = README_PATH.read_text(encoding="utf-8")
DOCS = {path.name: path.read_text(encoding="utf-8") for path in sorted((ROOT / "docs").glob("*.md"))}
MANUAL = "\n".join(DOCS.values())


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
def test_every_command_is_in_the_command_line_reference(name: str) -> None:
    found = re.search(rf"`{re.escape(name)}\b|^{re.escape(name)}\b", DOCS["cli.md"], re.M)
    assert found, f"{name} is not in docs/cli.md"


@pytest.mark.parametrize(("command", "option"), OPTIONS)
def test_every_option_is_in_the_manual(command: str, option: str) -> None:
    assert re.search(rf"{re.escape(option)}(?![\w-])", MANUAL), f"{command} {option} is not in docs/"


def config_keys() -> list[tuple[str, str]]:
    """Every key of sources.toml and of the issue file, with its table, as the dataclasses declare them."""
    return [(f"sources.toml [{table}]", key) for table, key, _help in config.declared_keys()] + [
        (f"issue file {table}", key) for table, key, _help in issuefile.declared_keys()]


@pytest.mark.parametrize(("table", "key"), config_keys())
def test_every_configuration_key_is_in_the_manual(table: str, key: str) -> None:
    where = DOCS["configuration.md"] if table.startswith("sources.toml") else DOCS["issue-file-and-desk.md"]
    assert f"`{key}`" in where, f"{table} {key} is not in docs/configuration.md or docs/issue-file-and-desk.md"


MODULES = sorted(path.relative_to(ROOT).as_posix() for path in (ROOT / "digest").rglob("*.py"))


@pytest.mark.parametrize("module", MODULES)
def test_every_module_is_in_the_module_map(module: str) -> None:
    assert f"| `{module}` |" in DOCS["development.md"], f"{module} is missing from docs/development.md's module map"


def test_every_module_in_the_map_exists() -> None:
    mapped = re.findall(r"^\| `(digest/[\w/]+\.py)` \|", DOCS["development.md"], re.M)
    assert mapped and set(mapped) <= set(MODULES), set(mapped) - set(MODULES)


@pytest.mark.parametrize("page", [README_PATH, *sorted((ROOT / "docs").glob("*.md"))], ids=lambda p: p.name)
def test_every_relative_link_leads_to_a_file(page: Path) -> None:
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
        if not re.match(r"[a-z]+:", target):
            assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"


def test_the_readme_is_a_short_guide_that_starts_with_make_run_then_make_test() -> None:
    assert len(README.splitlines()) <= 200, "README.md is the team's guide: the reference belongs in docs/"
    commands = [line.split()[:2] for block in re.findall(r"```sh\n(.*?)```", README, re.S)
                for line in block.splitlines() if line.strip()]
    assert commands[:2] == [["make", "run"], ["make", "test"]], commands[:2]


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


def test_the_teams_guide_examples_read_as_it_says(tmp_path: Path) -> None:
    """docs/pour-l-equipe.md: the subscribers CSV (Paul left) and the members file (Nancy's two domains)."""
    import re as regex

    from digest import members as member_file
    from digest.audience import recipients

    guide = (ROOT / "docs" / "pour-l-equipe.md").read_text(encoding="utf-8")
    blocks = regex.findall(r"```text\n(.*?)```", guide, regex.S)
    csv_text = next(b for b in blocks if b.startswith("email;"))
    members_text = next(b for b in blocks if b.startswith("collectivite;"))
    (tmp_path / "abonnes.csv").write_text(csv_text, encoding="utf-8")
    found = recipients.read(tmp_path / "abonnes.csv")
    assert [r.email for r in found.recipients] == ["anne.martin@nancy.fr"] and found.unsubscribed == 1
    assert found.recipients[0].name == "Anne Martin"
    (tmp_path / "adherents.csv").write_text(members_text, encoding="utf-8")
    members = member_file.read(tmp_path / "adherents.csv")
    assert members.member_of("anne@mairie-nancy.fr") == "Ville de Nancy"
    assert members.member_of("x@example.org") == ""
