"""The team's language: every sentence digest says goes through the catalogues, French is complete and current,
and the month's commands, the desk and the pages subscribers reach say nothing the catalogue does not hold.

The pseudo-language (DIGEST_LANG=qps) wraps every translated sentence in ⟦ ⟧: what is left outside the marks
once the names a person typed (files, sources, the letter's own content) are set aside is a sentence that
escaped translation."""

from __future__ import annotations

import gettext
import importlib.util
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from babel.messages.pofile import read_po

from digest import i18n
from tests import installed
from tests.conftest import ROOT
from tests.send_support import SECRET
from tests.smtp_sink import Sink

FR_PO = ROOT / "digest" / "locale" / "fr" / "LC_MESSAGES" / "digest.po"
BRACES = re.compile(r"\{(\w*)[^{}]*\}")  # a value's name; its format may differ (a French date, a wider column)
PERCENT = re.compile(r"%\((\w+)\)s")


def _tool() -> ModuleType:
    """scripts/i18n.py, the catalogue tool `make i18n` runs."""
    spec = importlib.util.spec_from_file_location("i18n_tool", ROOT / "scripts" / "i18n.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def template() -> Any:
    return _tool().extract()


@pytest.fixture(scope="module")
def french() -> Any:
    with FR_PO.open("rb") as handle:
        return read_po(handle, locale="fr")


def _ids(message: Any) -> tuple[str, ...]:
    return message.id if isinstance(message.id, tuple) else (message.id,)


def test_every_message_has_a_french_translation_none_fuzzy_none_stale(template: Any, french: Any) -> None:
    assert len(template) > 500  # the extraction saw the code, the desk's template and the commands' help
    missing = [m.id for m in template if m.id and not (french.get(_ids(m)[0]) and
                                                       all(_strings(french.get(_ids(m)[0]))))]
    fuzzy = [m.id for m in french if m.id and m.fuzzy]
    wanted = {m.id for m in template if m.id}
    stale = [m.id for m in french if m.id and m.id not in wanted]
    assert missing == [], f"{len(missing)} message(s) without French (run make i18n, then translate): {missing[:5]}"
    assert fuzzy == [], f"fuzzy translations (changed in the code since translated): {fuzzy[:5]}"
    assert stale == [], f"translations of messages the code no longer has (run make i18n): {stale[:5]}"


def _strings(message: Any) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def test_each_translation_keeps_the_values_of_its_message(french: Any) -> None:
    """A translation that drops or renames {value} or %(value)s would fail at run time, in front of the team
    (or silently lose what it should say)."""
    broken = []
    for message in french:
        if not message.id:
            continue
        wanted = {p for text in _ids(message) for p in BRACES.findall(text) + PERCENT.findall(text)}
        for text in _strings(message):
            if {p for p in BRACES.findall(text) + PERCENT.findall(text)} - wanted:
                broken.append((message.id, text))
        if not isinstance(message.id, tuple) and wanted != set(BRACES.findall(message.string)
                                                               + PERCENT.findall(message.string)):
            broken.append((message.id, message.string))
    assert broken == []


def test_the_compiled_catalogue_is_the_po_file(french: Any) -> None:
    """The .mo digest reads says what the .po in the repository says (make compiles it)."""
    catalogue = gettext.translation("digest", ROOT / "digest" / "locale", languages=["fr"])
    for message in french:
        if message.id and not isinstance(message.id, tuple):
            assert catalogue.gettext(message.id) == message.string, message.id


def test_french_typography_and_dates() -> None:
    with i18n.speaking("fr"):
        said = i18n._("Error: {message}").format(message="x : y")
        assert said == "Erreur\u00a0: x : y"  # the space the code's value brings is left as it is
        assert i18n._("Did you mean {possibility}?") .endswith("\u202f?")
        from datetime import date
        assert i18n.day(date(2026, 12, 18)) == "18 décembre 2026" and i18n.day(date(2027, 3, 1)) == "1er mars 2027"
        assert i18n.number(1234) == "1\u202f234" and i18n.number(12) == "12"  # « 1 234 » abonnés
        assert i18n.decimal(1234.56) == "1\u202f234,6" and i18n.decimal(0.25, 2) == "0,25"  # « 12,5 Ko »
        from datetime import datetime
        at = datetime(2026, 12, 15, 9, 5, 7)
        assert i18n.clock(at) == "9\u00a0h\u00a005"
        assert i18n.clock(at, seconds=True) == "9\u00a0h\u00a005\u00a0min\u00a07\u00a0s"
        assert i18n.moment(at) == "15 décembre 2026 à\u00a09\u00a0h\u00a005"  # « à 9 h 05 » kept together
    with i18n.speaking("en"):
        assert i18n.day(date(2026, 12, 18)) == "18 December 2026"
        assert i18n.number(1234) == "1,234" and i18n.decimal(1234.56) == "1,234.6"
        assert i18n.moment(at) == "15 December 2026 at 9:05" and i18n.clock(at, seconds=True) == "9:05:07"


GENERIC = re.compile(r"\{(value\d*|count\d+|group\d*|arg\d*|[a-z]|text\d+|name\d+)[:!}]")


def test_placeholders_are_named_for_what_they_hold(template: Any) -> None:
    """A translator sees only the message: « {day} », « {folder} », « {reason} » say what comes in, « {value2} »
    does not. Click's own messages keep click's names (click fills them in)."""
    from digest.cli.common import CLICK_WORDS

    clicks = {word for entry in CLICK_WORDS for word in (entry if isinstance(entry, tuple) else (entry,))}
    blind = [text for m in template if m.id for text in _ids(m) if GENERIC.search(text) and text not in clicks]
    assert blind == []


@pytest.mark.parametrize(("flag", "environ", "interface", "letter", "expected"), [
    ("en", {"DIGEST_LANG": "fr", "LANG": "fr_FR.UTF-8"}, "fr", "fr", "en"),  # --lang first
    (None, {"DIGEST_LANG": "en", "LANG": "fr_FR.UTF-8"}, "fr", "fr", "en"),  # then DIGEST_LANG
    (None, {"LANG": "fr_FR.UTF-8"}, "en", "fr", "en"),  # then [letter] interface
    (None, {"LC_ALL": "en_GB.UTF-8", "LANG": "fr_FR.UTF-8"}, None, "fr", "en"),  # then the locale, LC_ALL first
    (None, {"LANG": "C.UTF-8"}, None, "en", "en"),  # a locale naming no language: the letter's
    (None, {"LANG": "de_DE.UTF-8"}, None, "fr", "fr"),  # a language digest does not speak: the letter's
    (None, {}, None, None, "fr"),  # nothing said: French, the team's
    ("xx", {"DIGEST_LANG": "en"}, "fr", "fr", "en"),  # a wrong --lang (click refuses it) in the environment's words
])
def test_the_interface_language_is_chosen_in_order(flag: str | None, environ: dict[str, str], interface: str | None,
                                                    letter: str | None, expected: str) -> None:
    assert i18n.choose(flag, environ, interface, letter) == expected


# --- the month's commands, run as the team runs them ----------------------------------------------------------

MONTH = [
    ("build",), ("check",), ("check", "-v"), ("draft",), ("letters",), ("sources",),
    ("send", "--to", "moi@example.org"), ("send", "--list"), ("send", "--status"), ("publish", "site"),
    ("subscribers", "add", "anne@example.org"), ("send", "--list", "--yes"), ("send", "--status"),
    ("subscribers", "list"), ("subscribers", "stats"), ("subscribers", "consent", "anne@example.org"),
    ("contributions", "list"), ("contributions", "show", "7"),
    ("bounces", "--maildir", "retours"), ("build", "--nope"), ("build", "--date", "demain"), ("nosuchcommand",),
    ("--lang", "xx", "letters"),
    ("--help",), ("build", "--help"), ("send", "--help"), ("subscribers", "--help"),
]


def _run(folder: Path, language: str, *args: str) -> str:
    env = {**os.environ, "DIGEST_SECRET": SECRET, "DIGEST_LANG": language}
    done = subprocess.run([*installed.command(), *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A letter folder from `digest init` with a broken source, a real SMTP server and a bounce mailbox; the
    output of the month's commands in each language."""
    root = tmp_path_factory.mktemp("month")
    with Sink() as sink:
        outputs = {}
        for language in ("qps", "fr", "en"):
            made = _run(root, language, "init", language)
            folder = root / language
            with (folder / "sources.toml").open("a", encoding="utf-8") as toml:
                toml.write(f'\n[smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\nretry_wait = 0\n'
                           '\n[[source]]\nname = "cassee"\nsection = "actualites"\nurl = "absente.csv"\n')
            for box in ("cur", "new", "tmp"):
                (folder / "retours" / box).mkdir(parents=True)
            outputs[language] = f"$ digest init {language}\n{made}\n" + "\n".join(
                f"$ digest {' '.join(args)}\n{_run(folder, language, *args)}" for args in MONTH)
        yield root, outputs


def _content(folder: Path) -> list[str]:
    """What a person wrote (every value of the letter's TOML files and data files): it stands in the output in
    its own language, whatever digest speaks. Longest first, to be set aside whole."""
    import csv
    import tomllib

    found: set[str] = set()

    def values(data: Any) -> None:
        if isinstance(data, dict):
            for value in data.values():
                values(value)
        elif isinstance(data, list):
            for value in data:
                values(value)
        elif isinstance(data, str) and data.strip():
            found.add(data.strip())

    for path in [*folder.glob("*.toml"), *folder.glob("*/*.toml")]:
        values(tomllib.loads(path.read_text(encoding="utf-8")))
    for path in folder.glob("*/*.csv"):
        for row in csv.reader(path.read_text(encoding="utf-8").splitlines(), delimiter=";"):
            found.update(cell.strip() for cell in row if cell.strip())
    return sorted(found, key=len, reverse=True)


def _set_aside(text: str, content: list[str]) -> str:
    for written in content:
        text = text.replace(written, " ")
    return text


TECHNICAL = {"digest", "Ctrl", "HTTP", "SMTP", "Ko", "KB", "ms", "csv", "ics", "html", "txt", "mjml", "eml", "json",
             "toml", "cache", "rsync", "mbox", "Maildir", "imaps", "python",  # python: `python -m digest`
             # the check's keys (what --accept and check-accept.toml name): identifiers, as a command's name is
             "source", "size", "contrast", "logo", "subject", "preheader", "unsubscribe", "css", "agenda",
             # the mail clients check -v names: proper names
             "Gmail", "webmail", "iOS", "Android", "Outlook", "Windows", "SFR", "La", "Poste", "Orange", "Apple",
             "Mail", "Yahoo", "Thunderbird", "Samsung", "Email", "macOS"}


def _commands() -> set[str]:
    from digest.cli import main

    return set(main.commands) | {n for c in main.commands.values() for n in getattr(c, "commands", {})}


def _left(text: str, content: list[str]) -> list[str]:
    """The lines of `text` that hold a word of two letters or more outside ⟦ ⟧ and outside what a person wrote
    (the letter's content, names of files, addresses, options, values in quotes)."""
    allowed = TECHNICAL | _commands()
    while re.search(r"⟦[^⟦⟧]*⟧", text):  # innermost first: a translated sentence may hold translated words
        text = re.sub(r"⟦[^⟦⟧]*⟧", " ", text)
    text = re.sub(r"⟦[^\n]*", " ", text)  # a help line click cut short ("…") keeps its opening mark only
    outside = _set_aside(text, content)
    found = []
    for line in outside.splitlines():
        if line.startswith("$ digest"):
            continue
        line = re.sub(r"\S*[/@=_:.<>\[\]'\"`“”«»-]\S*|\d\S*", " ", line)
        words = [w for w in re.findall(r"[A-Za-zÀ-ÿ]{2,}", line) if not w.isupper() and w not in allowed]
        if words:
            found.append(f"{line.strip()}  ← {words}")
    return found


def test_the_pseudo_language_leaves_no_sentence_of_the_month_unmarked(month: tuple[Path, dict[str, str]]) -> None:
    root, outputs = month
    said = outputs["qps"]
    assert "⟦" in said and "Traceback" not in said
    for expected in ("⟦Usage:⟧", "⟦Commands⟧", "⟦Show this message and exit.⟧", "⟦No such option"):
        assert expected in said, expected  # click's own words are translated too
    assert _left(said, _content(root / "qps")) == []


ENGLISH = {"the", "is", "not", "and", "with", "from", "this", "that", "has", "have", "been", "will", "would",
           "your", "you", "its", "which", "there", "when", "what", "cannot", "nothing", "written", "file", "letter",
           "sent", "send", "items", "found", "error", "warning", "missing", "no", "yet", "run", "give", "see",
           "Usage", "Commands", "Show", "Error"}
FRENCH = {"le", "la", "les", "des", "du", "une", "est", "pas", "dans", "pour", "avec", "sur", "vous", "votre",
          "aucun", "aucune", "été", "lettre", "fichier", "envoi", "rubrique", "ou", "et", "ne", "Utilisation",
          "Commandes", "Erreur", "lancez", "abonnés"}


def _words_of(text: str, language_words: set[str], content: list[str]) -> list[str]:
    """The lines of `text` with a word of `language_words` not written by a person."""
    found, commands = [], _commands()
    for line in _set_aside(text, content).splitlines():
        if line.startswith("$ digest"):
            continue
        bare = re.sub(r"\S*[/@=_.<>\[\]`-]\S*|«[^»]*»|“[^”]*”|'[^']*'|\"[^\"]*\"", " ", line)
        hits = [w for w in re.findall(r"[A-Za-zÀ-ÿ]+", bare) if w in language_words and w not in commands]
        if hits:
            found.append(f"{line.strip()}  ← {hits}")
    return found


def test_a_french_run_of_the_month_says_no_english_sentence(month: tuple[Path, dict[str, str]]) -> None:
    root, outputs = month
    said = outputs["fr"]
    for expected in ("Utilisation", "Commandes", "Erreur", "Construction de « La Lettre de CUF »", "Rubriques"):
        assert expected in said.replace("\u00a0", " "), expected
    # times and dates written out, as the team writes them (`digest letters`, the list send's question)
    assert re.search(r"construction\u00a0: \d{1,2}(er)? [a-zéû]+ \d{4} à\u00a0\d{1,2}\u00a0h\u00a0\d\d", said)
    assert re.search(r"\(\d+,\d Ko de HTML", said), said  # « (16,0 Ko de HTML, 5 articles) »
    assert _words_of(said, ENGLISH, _content(root / "fr")) == []


def test_an_english_run_of_the_month_says_no_french_sentence(month: tuple[Path, dict[str, str]]) -> None:
    root, outputs = month
    said = outputs["en"]
    for expected in ("Usage:", "Commands:", "Error:", "Building “La Lettre de CUF”", "Sections:"):
        assert expected in said, expected
    # the letter's own words (its title, sections, items) are French whatever digest speaks: set aside
    assert _words_of(said, FRENCH, _content(root / "en")) == []


def _format_calls() -> Iterator[tuple[str, int, str, set[str]]]:
    """Every `_("…").format(…)` of the package: (file, line, message, the names given)."""
    import ast

    for path in sorted((ROOT / "digest").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"):
                continue
            made = node.func.value
            if (isinstance(made, ast.Call) and isinstance(made.func, ast.Name) and made.func.id in {"_", "N_"}
                    and made.args and isinstance(made.args[0], ast.Constant) and isinstance(made.args[0].value, str)
                    and not any(k.arg is None for k in node.keywords)):
                yield (str(path.relative_to(ROOT)), node.lineno, made.args[0].value,
                       {k.arg for k in node.keywords if k.arg})


def test_every_message_is_given_the_values_it_names() -> None:
    """A renamed placeholder whose value kept its old name fails here, not in front of the team (a KeyError)."""
    import string

    calls = list(_format_calls())
    assert len(calls) > 300
    missing = [(where, line, message) for where, line, message, given in calls
               if {name.split(".")[0].split("[")[0] for _t, name, _s, _c in string.Formatter().parse(message)
                   if name} - given]
    assert missing == []
