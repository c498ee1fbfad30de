"""Installable outside the checkout: a wheel carries the templates, and `digest init` then `build` work anywhere."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from digest import __version__
from tests import installed

from .conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the project's sources, as `pip install .` would build it."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    for name in ("digest", "templates"):  # no .mo: the wheel's build compiles the catalogues itself
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.mo"))
    for name in ("pyproject.toml", "README.md", "setup.py"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(work / "dist"), str(source)], check=True, capture_output=True, timeout=300)
    return next((work / "dist").glob("digest-*.whl"))


def test_the_wheel_ships_the_templates_and_the_css_table(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("digest/templates/letter.mjml.j2", "digest/templates/letter.txt.j2",
                 "digest/review/data/caniemail.json", "digest/review/data/caniemail.LICENSE",
                 "digest/starter/sources.toml", "digest/starter/issue-exemple.toml",
                 "digest/review/static/desk.js", "digest/review/static/desk.html.j2",
                 "digest/locale/fr/LC_MESSAGES/digest.mo", "digest/locale/en/LC_MESSAGES/digest.mo"):
        assert name in names, name


def _source_files() -> set[str]:
    """Every file the package is made of, as the wheel names it: digest/ (modules, catalogues, data, the store's
    migrations) and templates/ (shipped as digest/templates/); not bytecode, the compiled catalogues (built) or
    the translators' template (digest.pot)."""
    found = {str(path.relative_to(ROOT)) for path in (ROOT / "digest").rglob("*")
             if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".mo", ".pot")}
    found |= {f"digest/templates/{path.relative_to(ROOT / 'templates')}" for path in (ROOT / "templates").rglob("*")
              if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"}
    return found


def test_the_wheel_holds_every_file_of_the_package(wheel: Path) -> None:
    """Packages are found, never listed by hand: a new package or data file is in the wheel (0.1.0's wheel lacked
    digest/contribute/, so `digest serve` stopped at start on the team's machine)."""
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(_source_files() - names)
    assert missing == [], missing
    assert {"digest/locale/fr/LC_MESSAGES/digest.mo", "digest/locale/en/LC_MESSAGES/digest.mo"} <= names


def test_every_module_imports_from_the_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
                    str(wheel)], check=True, capture_output=True, timeout=300)
    modules = sorted(".".join(Path(name).with_suffix("").parts).removesuffix(".__init__")
                     for name in _source_files() if name.endswith(".py") and not name.endswith("__main__.py"))
    code = ("import importlib, sys\n"
            f"for name in {modules!r}:\n"
            "    module = importlib.import_module(name)\n"
            f"    assert module.__file__.startswith({str(site)!r}), (name, module.__file__)\n"
            "print(len(sys.modules))\n")
    imported = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(site)},
                              capture_output=True, text=True, timeout=300)
    assert imported.returncode == 0, imported.stderr[-3000:]
    assert len(modules) > 90  # every module of the house, not a few


def test_installed_elsewhere_init_then_build_works_offline(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
                    str(wheel)], check=True, capture_output=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(site)}  # the installed copy comes before the checkout's
    letter = tmp_path / "lettre"

    def digest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "digest", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=120)

    created = digest("init", str(letter), cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    french = subprocess.run([sys.executable, "-m", "digest", "--help"], cwd=letter, capture_output=True, text=True,
                            env={**env, "DIGEST_LANG": "fr"}, timeout=60)
    assert "Utilisation" in french.stdout and "Commandes" in french.stdout  # the wheel's catalogue is read
    built = digest("build", cwd=letter)
    assert built.returncode == 0, built.stdout + built.stderr
    html = next((letter / "outbox").glob("*/letter.html")).read_text(encoding="utf-8")
    assert "Intempéries dans le centre du Vietnam" in html and "Agenda" in html
    origin = subprocess.run([sys.executable, "-c", "import digest; print(digest.__file__)"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, check=True).stdout
    assert origin.startswith(str(site)), origin  # the build above ran the installed copy, not the checkout


def test_init_templates_copies_them_for_editing_and_an_edit_shows(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from digest.cli import main

    runner = CliRunner()
    assert runner.invoke(main, ["init", str(tmp_path)]).exit_code == 0
    again = runner.invoke(main, ["init", str(tmp_path), "--templates"])
    assert again.exit_code == 0
    assert "kept  sources.toml (already there, not overwritten)" in again.stdout
    mjml = tmp_path / "templates" / "letter.mjml.j2"
    assert mjml.read_text(encoding="utf-8") == (ROOT / "templates" / "letter.mjml.j2").read_text(encoding="utf-8")
    mjml.write_text(mjml.read_text(encoding="utf-8").replace("</mj-body>", "<mj-section><mj-column><mj-text>"
                                                             "Notre gabarit</mj-text></mj-column></mj-section>"
                                                             "</mj-body>"), encoding="utf-8")
    (tmp_path / "templates" / "letter.txt.j2").unlink()  # a folder may hold only the templates it changes
    built = runner.invoke(main, ["build", "-c", str(tmp_path / "sources.toml")])
    assert built.exit_code == 0, built.output
    folder = next((tmp_path / "outbox").glob("*/"))
    assert "Notre gabarit" in (folder / "letter.html").read_text(encoding="utf-8")
    assert "Intempéries" in (folder / "letter.txt").read_text(encoding="utf-8")  # the stock text template


def test_the_months_tests_run_the_digest_the_team_installs() -> None:
    """`make test` hands the month's end-to-end tests the wheel installed in a virtual environment of its own."""
    command = installed.command()
    if command[0] == sys.executable:  # run by hand, outside `make test` (on CI this is a failure, not a fallback)
        pytest.skip("DIGEST_INSTALLED not set: run `make test` to test the installed package")
    version = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and __version__ in version.stdout, version.stdout + version.stderr
    python = Path(command[0]).with_name("python")
    where = subprocess.run([str(python), "-c", "import digest, sys; print(digest.__file__)"], cwd="/",
                           capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    assert "site-packages" in where and not where.startswith(str(ROOT / "digest")), where  # the wheel, not the checkout
