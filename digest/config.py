"""Load sources.toml into frozen dataclasses, collecting every problem before reporting them all at once."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from email.utils import parseaddr
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.errors import ConfigError
from digest.model import Link, SectionKind

FORMATS = ("rss", "csv", "json", "toml", "ics")
# What a file's extension says about its format, when `format` is not given.
EXTENSIONS = {
    ".xml": "rss", ".rss": "rss", ".atom": "rss", ".rdf": "rss",
    ".csv": "csv", ".json": "json", ".toml": "toml", ".ics": "ics", ".ical": "ics",
}
DEFAULT_ADDRESS = "Cités Unies France · 9 rue Christiani · 75018 Paris"
TEMPLATE_NAMES = ("letter.mjml.j2", "letter.txt.j2")


@dataclass(frozen=True)
class LetterConfig:
    """The [letter] table: what names and signs every issue."""

    title: str
    date: date | None
    language: str
    base_url: str
    unsubscribe_url: str
    sender: str
    address: str
    timezone: str
    templates: tuple[Path, ...]  # where templates are looked for, in order: the user's folder, then the package's
    teaser_length: int
    unsubscribe_mailto: str | None = None
    footer_links: tuple[Link, ...] = ()


@dataclass(frozen=True)
class SectionConfig:
    """One [[section]]: a block of the letter and the rule that fills it."""

    id: str
    title: str
    kind: SectionKind
    max_items: int
    window_days: int
    horizon_days: int
    default_image: str | None = None
    repeat: bool = False  # items an earlier letter carried may show again (agenda: until the event is over)


@dataclass(frozen=True)
class SourceConfig:
    """One [[source]]: where items come from and which section they feed."""

    name: str
    section: str
    url: str
    location: str
    format: str
    timeout: float


@dataclass(frozen=True)
class SmtpConfig:
    """The [smtp] table: the server that sends the letter. The password is never here, only the NAME of
    the environment variable that holds it (password_env), and likewise the unsubscribe secret (secret_env)."""

    host: str = "localhost"
    port: int = 587
    security: str = "starttls"
    username: str | None = None
    password_env: str | None = None
    rate: float | None = None
    list_id: str | None = None
    secret_env: str = "DIGEST_SECRET"
    timeout: float = 30.0
    retry_wait: float = 60.0


@dataclass(frozen=True)
class FetchConfig:
    """The [fetch] table: how web sources are fetched and where their last good copies are kept."""

    concurrency: int = 32
    per_host: int = 4
    deadline: float = 60.0
    connect_timeout: float = 5.0
    max_bytes: int = 10 * 1024 * 1024
    retries: int = 2
    max_redirects: int = 5
    cache_dir: Path | None = None  # None: .digest-cache/ beside sources.toml


@dataclass(frozen=True)
class Config:
    """The whole of sources.toml, checked."""

    path: Path
    letter: LetterConfig
    sections: tuple[SectionConfig, ...]
    sources: tuple[SourceConfig, ...]
    smtp: SmtpConfig | None = None
    fetch: FetchConfig = FetchConfig()

    @property
    def root(self) -> Path:
        """The folder that holds sources.toml: relative paths start here."""
        return self.path.parent

    @property
    def outbox(self) -> Path:
        """Where letters are written: outbox/ beside sources.toml."""
        return self.root / "outbox"

    @property
    def cache_dir(self) -> Path:
        """Where web sources' last good copies and the sources' health are kept."""
        return self.fetch.cache_dir or self.root / ".digest-cache"

    def section(self, section_id: str) -> SectionConfig:
        """The section with this id."""
        return next(s for s in self.sections if s.id == section_id)


class _Problems:
    """Collects problems with the file and key they concern, to report all of them at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{self.path}: {where}: {message}")


Check = Callable[[Any], Any]


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected non-empty text, got {value!r}")
    return value.strip()


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"expected a whole number above 0, got {value!r}")
    return value


def _positive(what: str) -> Check:
    """A check for a number above 0; `what` names the unit in the message ("a number of seconds")."""

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"expected {what} above 0, got {value!r}")
        return float(value)

    return check


_positive_number = _positive("a number of seconds")


def _http_url(value: Any) -> str:
    text = _text(value)
    parsed = urlparse(text)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"expected an absolute http(s) URL, got {text!r}")
    return text


def _mailto(value: Any) -> str:
    text = _text(value)
    if not text.startswith("mailto:") or "@" not in text:
        raise ValueError(f"expected a mailto: address such as 'mailto:desabonnement@example.org', got {text!r}")
    return text


def _sender(value: Any) -> str:
    text = _text(value)
    if "@" not in parseaddr(text)[1]:
        raise ValueError(f"expected an address such as 'Cités Unies France <lettre@example.org>', got {text!r}")
    return text


# What a mail header cannot hold: a line break would start a header of its own (RFC 5322 2.2).
_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def one_line(check: Check, ascii_only: bool = False) -> Check:
    """`check` for a value that goes into a mail header: no line break nor control character (and ASCII only
    for a header written as is, such as List-Unsubscribe)."""

    def checked(value: Any) -> Any:
        if isinstance(value, str) and (found := _BREAKS.search(value.strip())):
            raise ValueError(f"it holds a line break or a control character (U+{ord(found.group()):04X}), and it "
                             "goes into the e-mail's headers: write it on one line")
        if ascii_only and isinstance(value, str) and not value.isascii():
            raise ValueError("it goes into a header that must be ASCII: write accented letters percent-encoded "
                             f"(é as %C3%A9), got {value!r}")
        return check(value)

    return checked


def _links(value: Any) -> tuple[Link, ...]:
    if not isinstance(value, list):
        raise ValueError("expected an array such as [{ title = \"Texte\", url = \"https://...\" }]")
    links = []
    for number, entry in enumerate(value, 1):
        if not isinstance(entry, dict) or set(entry) != {"title", "url"}:
            raise ValueError(f"link #{number}: expected exactly the keys title and url")
        try:
            links.append(Link(_text(entry["title"]), _http_url(entry["url"])))
        except ValueError as exc:
            raise ValueError(f"link #{number}: {exc}") from None
    return tuple(links)


def _iso_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2025-11-20") from None


def _timezone(value: Any) -> str:
    text = _text(value)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {text!r}; use an IANA name such as 'Europe/Paris'") from None
    return text


def _choice(*choices: str) -> Check:
    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
        return cast(str, value)

    return check


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ValueError(f"expected a port number such as 587, got {value!r}")
    return value


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"expected a number of seconds, 0 or more, got {value!r}")
    return float(value)


def _matching(pattern: str, expected: str) -> Check:
    """A check for text that matches `pattern` in full; `expected` says what to write instead."""

    def check(value: Any) -> str:
        text = _text(value)
        if not re.fullmatch(pattern, text):
            raise ValueError(f"{expected}, got {text!r}")
        return text

    return check


_env_name = _matching(r"[A-Za-z_][A-Za-z0-9_]*",
                      "expected the NAME of an environment variable such as 'DIGEST_SMTP_PASSWORD'")
_list_id = _matching(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+",
                     "expected a dotted name such as 'lettre.cites-unies-france.org' (RFC 2919)")
_identifier = _matching(r"[A-Za-z0-9][A-Za-z0-9_-]*", "use letters, digits, '-' and '_' only")


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a whole number, 0 or more, got {value!r}")
    return value


# Each table's keys: name -> (check, default). A default of ... means the key is required.
LETTER_KEYS: dict[str, tuple[Check, Any]] = {
    "title": (one_line(_text), ...),  # the subject by default, and in List-Id
    "date": (_iso_date, None),
    "language": (_text, "fr"),
    "base_url": (_http_url, ...),
    "unsubscribe_url": (one_line(_http_url, ascii_only=True), ...),
    "unsubscribe_mailto": (one_line(_mailto, ascii_only=True), None),
    "from": (one_line(_sender), ...),
    "address": (_text, DEFAULT_ADDRESS),
    "timezone": (_timezone, "Europe/Paris"),
    "templates": (_text, None),
    "teaser_length": (_positive_int, 220),
    "footer_links": (_links, ()),
}
SECTION_KEYS: dict[str, tuple[Check, Any]] = {
    "id": (_identifier, ...),
    "title": (_text, ...),
    "kind": (_choice("news", "agenda"), "news"),
    "max_items": (_positive_int, 10),
    "window_days": (_positive_int, 31),
    "horizon_days": (_positive_int, 180),
    "default_image": (_http_url, None),
    "repeat": (_boolean, None),
}
SOURCE_KEYS: dict[str, tuple[Check, Any]] = {
    "name": (_identifier, ...),
    "section": (_text, ...),
    "url": (_text, ...),
    "format": (_choice(*FORMATS), None),
    "timeout": (_positive_number, 10.0),
}
SMTP_KEYS: dict[str, tuple[Check, Any]] = {
    "host": (_text, ...),
    "port": (_port, None),
    "security": (_choice("starttls", "ssl", "none"), "starttls"),
    "username": (_text, None),
    "password_env": (_env_name, None),
    "rate": (_positive("messages per second (such as 10 or 0.5)"), None),
    "list_id": (one_line(_list_id), None),
    "secret_env": (_env_name, "DIGEST_SECRET"),
    "timeout": (_positive_number, 30.0),
    "retry_wait": (_seconds, 60.0),
}
# Which port each kind of connection uses when `port` is not given.
SMTP_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
FETCH_KEYS: dict[str, tuple[Check, Any]] = {
    "concurrency": (_positive_int, 32),
    "per_host": (_positive_int, 4),
    "deadline": (_positive_number, 60.0),
    "connect_timeout": (_positive_number, 5.0),
    "max_bytes": (_positive_int, 10 * 1024 * 1024),
    "retries": (_whole, 2),
    "max_redirects": (_whole, 5),
    "cache_dir": (_text, ".digest-cache"),
}
TOP_KEYS = {"letter": "table", "section": "array of tables", "source": "array of tables", "smtp": "table",
            "fetch": "table"}


def load(path: Path) -> Config:
    """Read and check sources.toml; raise ConfigError listing every problem found."""
    path = Path(path)
    data = _read_toml(path)
    problems = _Problems(path)
    _check_unknown(data, TOP_KEYS, "top level", problems)
    letter_table = _table(data, "letter", problems)
    letter = _read_table(letter_table, LETTER_KEYS, "[letter]", problems)
    sections = [_read_table(t, SECTION_KEYS, f"[[section]] #{i}", problems)
                for i, t in enumerate(_tables(data, "section", problems), 1)]
    sources = [_read_table(t, SOURCE_KEYS, f"[[source]] #{i}", problems)
               for i, t in enumerate(_tables(data, "source", problems), 1)]
    _check_references(sections, sources, problems)
    templates = _templates(letter["templates"], path, problems)
    smtp = _smtp(data, problems)
    fetch = _fetch(data, path, problems)
    if problems.items:
        raise ConfigError(problems.items)
    root = path.resolve().parent
    return Config(
        path=path.resolve(),
        letter=_letter(letter, templates),
        sections=tuple(_section(s) for s in sections),
        sources=tuple(SourceConfig(location=resolve_location(s["url"], root), **s) for s in sources),
        smtp=smtp,
        fetch=fetch,
    )


def _section(values: dict[str, Any]) -> SectionConfig:
    # An upcoming event is worth announcing in every letter until it takes place; news is sent once.
    repeat = values["kind"] == "agenda" if values["repeat"] is None else values["repeat"]
    return SectionConfig(**{**values, "repeat": repeat})


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found; pass the configuration with -c PATH"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None


def _table(data: Mapping[str, Any], key: str, problems: _Problems) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        problems.add(key, f"expected a table [{key}]")
        return {}
    if not value:
        problems.add(f"[{key}]", "missing; it needs at least title, base_url, unsubscribe_url and from")
    return value


def _tables(data: Mapping[str, Any], key: str, problems: _Problems) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        problems.add(key, f"expected an array of tables, written [[{key}]]")
        return []
    if not value:
        problems.add(f"[[{key}]]", f"none defined; add at least one [[{key}]] table")
    return value


def _check_unknown(table: Mapping[str, Any], known: Mapping[str, Any], where: str, problems: _Problems) -> None:
    for key in table:
        if key not in known:
            hint = difflib.get_close_matches(key, list(known), n=1)
            suggestion = f"; did you mean '{hint[0]}'?" if hint else f"; known keys: {', '.join(known)}"
            problems.add(where, f"unknown key '{key}'{suggestion}")


def _read_table(
    table: Mapping[str, Any], keys: Mapping[str, tuple[Check, Any]], where: str, problems: _Problems
) -> dict[str, Any]:
    """Check one table against its keys; bad or missing values become problems, not exceptions."""
    if "id" in table or "name" in table:
        where = f"{where} ({table.get('id') or table.get('name')!s})"
    _check_unknown(table, keys, where, problems)
    values: dict[str, Any] = {}
    for key, (check, default) in keys.items():
        if key not in table:
            if default is ...:
                problems.add(where, f"missing required key '{key}'")
            values[key] = None if default is ... else default
            continue
        try:
            values[key] = check(table[key])
        except ValueError as exc:
            problems.add(f"{where} {key}", str(exc))
            values[key] = None
    return values


def _check_references(sections: list[dict[str, Any]], sources: list[dict[str, Any]], problems: _Problems) -> None:
    section_ids = [s["id"] for s in sections if s["id"]]
    for duplicate in sorted({i for i in section_ids if section_ids.count(i) > 1}):
        problems.add("[[section]]", f"id '{duplicate}' is used more than once")
    names = [s["name"] for s in sources if s["name"]]
    for duplicate in sorted({n for n in names if names.count(n) > 1}):
        problems.add("[[source]]", f"name '{duplicate}' is used more than once")
    for number, source in enumerate(sources, 1):
        if source["section"] and source["section"] not in section_ids:
            hint = difflib.get_close_matches(source["section"], section_ids, n=1)
            known = f"did you mean '{hint[0]}'?" if hint else f"sections are: {', '.join(section_ids) or 'none'}"
            problems.add(f"[[source]] #{number} ({source['name']}) section",
                         f"no section has id '{source['section']}'; {known}")
        if source["url"]:
            try:
                resolve_location(source["url"], Path("."))
            except ValueError as exc:
                problems.add(f"[[source]] #{number} ({source['name']}) url", str(exc))
        if source["url"] and not source["format"]:
            try:
                source["format"] = guess_format(source["url"])
            except ValueError as exc:
                problems.add(f"[[source]] #{number} ({source['name']}) format", str(exc))


def guess_format(url: str) -> str:
    """The format a source's address suggests: its extension, else rss for a web address."""
    parsed = urlparse(url)
    suffix = Path(parsed.path).suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    if parsed.scheme in ("http", "https"):
        return "rss"
    raise ValueError(f"cannot tell the format of {url!r} from its name; add format = one of {', '.join(FORMATS)}")


def resolve_location(url: str, root: Path) -> str:
    """An absolute file path or an http(s) URL for a source's `url` (relative paths start at root)."""
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https"):
        return url
    if parsed.scheme == "file":
        return str(Path(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:
        raise ValueError(f"unsupported address scheme '{parsed.scheme}:'; use a path, file:// or http(s)://")
    return str((root / url).resolve())


def _templates(configured: str | None, path: Path, problems: _Problems) -> tuple[Path, ...]:
    """Where templates are looked for: the configured folder (else templates/ beside sources.toml, if there),
    then the stock templates inside the package, so a user's folder may hold only the templates it changes."""
    stock = package_templates()
    if configured:
        folder = (path.parent / configured).resolve()
        if not folder.is_dir():
            problems.add("[letter] templates", f"{folder} is not a folder; run `digest init --templates` to copy "
                         "the stock templates there, or remove the key to use them as they are")
        return (folder, stock)
    beside = (path.parent / "templates").resolve()
    return (beside, stock) if beside.is_dir() and beside != stock else (stock,)


def package_templates() -> Path:
    """The stock templates shipped inside the package (templates/ of the repository, as digest.templates)."""
    from importlib.resources import files

    return Path(str(files("digest.templates"))).resolve()


def _letter(values: dict[str, Any], templates: tuple[Path, ...]) -> LetterConfig:
    return LetterConfig(
        title=values["title"], date=values["date"], language=values["language"],
        base_url=values["base_url"], unsubscribe_url=values["unsubscribe_url"],
        unsubscribe_mailto=values["unsubscribe_mailto"], sender=values["from"], address=values["address"],
        timezone=values["timezone"], templates=templates, teaser_length=values["teaser_length"],
        footer_links=values["footer_links"],
    )


def _smtp(data: Mapping[str, Any], problems: _Problems) -> SmtpConfig | None:
    """The optional [smtp] table; a password written in the file is refused, never read."""
    table = data.get("smtp")
    if table is None:
        return None
    if not isinstance(table, dict):
        problems.add("smtp", "expected a table [smtp]")
        return None
    for key in ("password", "pass", "secret"):
        if key in table:
            problems.add(f"[smtp] {key}", "never write a password or secret in this file; set password_env "
                         "(or secret_env) to the NAME of an environment variable and export it before sending")
    values = _read_table({k: v for k, v in table.items() if k not in ("password", "pass", "secret")},
                         SMTP_KEYS, "[smtp]", problems)
    if values["username"] and not values["password_env"]:
        problems.add("[smtp] password_env", "username is set but password_env is not; name the environment "
                     "variable that holds the password, e.g. password_env = \"DIGEST_SMTP_PASSWORD\"")
    if any(values[k] is None for k, (_, default) in SMTP_KEYS.items() if default is ...):
        return None
    security = values["security"] or "starttls"
    return SmtpConfig(
        host=values["host"], port=values["port"] or SMTP_PORTS[security], security=security,
        username=values["username"], password_env=values["password_env"], rate=values["rate"],
        list_id=values["list_id"], secret_env=values["secret_env"] or "DIGEST_SECRET",
        timeout=values["timeout"] or 30.0, retry_wait=60.0 if values["retry_wait"] is None else values["retry_wait"],
    )


def _fetch(data: Mapping[str, Any], path: Path, problems: _Problems) -> FetchConfig:
    """The optional [fetch] table; cache_dir is relative to sources.toml."""
    table = data.get("fetch", {})
    if not isinstance(table, dict):
        problems.add("fetch", "expected a table [fetch]")
        table = {}
    values = _read_table(table, FETCH_KEYS, "[fetch]", problems)
    defaults = {key: default for key, (_, default) in FETCH_KEYS.items()}
    values = {key: defaults[key] if value is None else value for key, value in values.items()}
    values["cache_dir"] = path.resolve().parent / values["cache_dir"]
    return FetchConfig(**values)
