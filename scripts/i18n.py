"""The interface's catalogues, with Babel: extract the messages, update the .po files, compile the .mo files.

    python scripts/i18n.py extract   digest/locale/digest.pot from the code, the desk's template and the CLI's help
    python scripts/i18n.py update    each language's .po brought up to the template (new messages empty, old ones
                                     kept as obsolete, changed ones fuzzy)
    python scripts/i18n.py compile   each .po to its .mo (what digest reads at run time)

`make i18n` runs the three. The tests (tests/test_i18n.py) call `extract()` and fail on a message without a
French translation or with a fuzzy one.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "digest" / "locale"
TEMPLATE = LOCALE / "digest.pot"
LANGUAGES = ("fr", "en")
METHODS = [("**/locale/**", "ignore"), ("**.py", "python"), ("**.j2", "jinja2.ext:babel_extract")]
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "Nn_": (1, 2)}


def _code_messages() -> Iterator[tuple[str | tuple[str, str], str, int, list[str]]]:
    """(message, file, line, comments) for every marked message of the package and of its stock templates
    (templates/, shipped as digest.templates: the archive page speaks the letter's language through them)."""
    options = {"**.j2": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    for folder in ("digest", "templates"):
        for filename, line, message, comments, _context in extract_from_dir(
                ROOT / folder, METHODS, options_map=options, keywords=KEYWORDS, comment_tags=("Translators:",),
                strip_comment_tags=True):
            yield message, f"{folder}/{filename}", line, comments


def _help_messages() -> Iterator[tuple[str, str, int, list[str]]]:
    """The help texts of every command and option, as click shows them (docstrings are not marked)."""
    sys.path.insert(0, str(ROOT))
    from digest import cli

    for owner, text in cli.help_texts(cli.main):
        name = getattr(owner, "name", "") or ""
        yield text, f"digest/cli.py ({name})", 0, ["Command-line help."]


def extract() -> Catalog:
    """The template catalogue: every message a person may read."""
    catalog = Catalog(project="digest", domain="digest", charset="utf-8", fuzzy=False)
    for message, where, line, comments in [*_code_messages(), *_help_messages()]:
        if message:
            catalog.add(message, locations=[(where, line)], auto_comments=comments,
                        flags=("python-brace-format",) if isinstance(message, str) and "{" in message else ())
    return catalog


def _po(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "digest.po"


def update(template: Catalog) -> None:
    """Bring each language's .po up to the template."""
    for language in LANGUAGES:
        path = _po(language)
        if path.exists():
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=language)
        else:
            catalog = Catalog(locale=language, domain="digest", project="digest", fuzzy=False)
        catalog.update(template, no_fuzzy_matching=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, width=116, omit_header=False, ignore_obsolete=True, include_previous=False)


def compile_all() -> None:
    """Write each language's .mo beside its .po (fuzzy entries left out, as gettext does)."""
    for language in LANGUAGES:
        path = _po(language)
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=language)
        with path.with_suffix(".mo").open("wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)


def main(argv: list[str]) -> int:
    """Run the steps named on the command line (extract, update, compile)."""
    steps = argv or ["extract", "update", "compile"]
    template = None
    for step in steps:
        if step == "extract":
            template = extract()
            with TEMPLATE.open("wb") as handle:
                write_po(handle, template, width=116, omit_header=False)
        elif step == "update":
            if template is None:
                with TEMPLATE.open("rb") as handle:
                    template = read_po(handle)
            update(template)
        elif step == "compile":
            compile_all()
        else:
            print(f"unknown step {step!r}: extract, update or compile", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
