"""Load sources.toml into frozen dataclasses, collecting every problem before reporting them all at once.

Each table becomes a dataclass whose fields declare its keys, each once: its check, its default and a line of help
(digest.schema.key). The formats a source may have are the collectors' (digest.collectors.formats).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from email.utils import parseaddr
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from digest import schema
from digest.errors import ConfigError
from digest.i18n import N_, _
from digest.model import Audience, Link, SectionKind
from digest.schema import Problems, key

T = TypeVar("T")
DEFAULT_ADDRESS = "Cités Unies France · 9 rue Christiani · 75018 Paris"
DEFAULT_TEASER_LENGTH = 220
# Which port each kind of SMTP connection uses when `port` is not given.
SMTP_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
DEFAULT_HORIZON_DAYS = 180
TEMPLATE_NAMES = ("letter.mjml.j2", "letter.txt.j2")


def _mailto(value: Any) -> str:
    found = schema.line(value)
    if not found.startswith("mailto:") or "@" not in found:
        raise ValueError(_("expected a mailto: address such as 'mailto:desabonnement@example.org', got "
                           "{found!r}").format(
                             found=found))
    return found


def _sender(value: Any) -> str:
    found = schema.line(value)
    if "@" not in parseaddr(found)[1]:
        raise ValueError(_("expected an address such as 'Cités Unies France <lettre@example.org>', got "
                           "{found!r}").format(found=found))
    return found


def _address(value: Any) -> str:
    """A bare address (an envelope sender): local@domain, nothing around it."""
    found = schema.line(value)
    if not re.fullmatch(r"[A-Za-z0-9._%+=-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", found):
        raise ValueError(_("expected a bare address such as 'lettre-retour@example.org', got {found!r}").format(
                             found=found))
    return found


def _addresses(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and "@" in v for v in value):
        raise ValueError(_('expected an array of e-mail addresses, e.g. ["redaction@cites-unies-france.org"]'))
    return tuple(schema.line(v) for v in value)


def _links(value: Any) -> tuple[Link, ...]:
    if not isinstance(value, list):
        raise ValueError(_('expected an array such as [{ title = "Texte", url = "https://..." }]'))
    links = []
    for number, entry in enumerate(value, 1):
        if not isinstance(entry, dict) or set(entry) != {"title", "url"}:
            raise ValueError(_("link #{number}: expected exactly the keys title and url").format(number=number))
        try:
            links.append(Link(schema.text(entry["title"]), schema.http_url(entry["url"])))
        except ValueError as exc:
            raise ValueError(_("link #{number}: {exc}").format(number=number, exc=exc)) from None
    return tuple(links)


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ValueError(_("expected a port number such as 587, got {given!r}").format(given=value))
    return value


_env_name = schema.matching(r"[A-Za-z_][A-Za-z0-9_]*",
                            N_("expected the NAME of an environment variable such as 'DIGEST_SMTP_PASSWORD'"))
_list_id = schema.matching(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+",
                           N_("expected a dotted name such as 'lettre.cites-unies-france.org' (RFC 2919)"))
_identifier = schema.matching(r"[A-Za-z0-9][A-Za-z0-9_-]*", N_("use letters, digits, '-' and '_' only"))


def _format(value: Any) -> str:
    # Imported here, not above: digest.collectors imports this module (formats.py itself imports nothing).
    from digest.collectors.formats import NAMES

    found: str = schema.choice(*NAMES)(value)
    return found


@dataclass(frozen=True)
class LetterConfig:
    """The [letter] table: what names and signs every issue."""

    title: str = field(metadata=key(schema.line, "the letter's name, at the top of every issue"))
    base_url: str = field(metadata=key(schema.http_url, "the public address of the letters (links to the web copy)"))
    unsubscribe_url: str = field(metadata=key(schema.ascii_only(schema.http_url),
                                              "the page where a subscriber unsubscribes"))
    sender: str = field(metadata=key(_sender, "the From: address, e.g. 'Cités Unies France <lettre@…>'",
                                     name="from"))
    # Where templates are looked for, in order: the user's folder, then the package's.
    templates: tuple[Path, ...] = field(metadata=key(schema.text, "a folder of templates replacing the stock ones",
                                                     optional=True))
    date: date | None = field(default=None, metadata=key(schema.iso_date, "the issue's date (YYYY-MM-DD)"))
    language: str = field(default="fr", metadata=key(schema.line, "the lang of the HTML and the locale of dates"))
    # digest's own words (CLI, desk, reports): else DIGEST_LANG, the locale, then `language`; --lang beats all.
    interface: str | None = field(default=None, metadata=key(schema.choice("fr", "en"),
                                                             "the language digest speaks to the team: fr or en"))
    timezone: str = field(default="Europe/Paris", metadata=key(schema.timezone, "the IANA time zone of dates"))
    address: str = field(default=DEFAULT_ADDRESS, metadata=key(schema.text, "the postal address in the footer"))
    teaser_length: int = field(default=DEFAULT_TEASER_LENGTH,
                               metadata=key(schema.positive_int, "characters of an item's teaser"))
    unsubscribe_mailto: str | None = field(default=None, metadata=key(
        schema.ascii_only(_mailto), "a mailto: address for one-click unsubscribing (List-Unsubscribe)"))
    footer_links: tuple[Link, ...] = field(default=(), metadata=key(_links, "links in the footer: title and url"))
    # Journals and dry-run copies (subscribers' addresses): never under outbox/.
    private_dir: str = field(default="sends", metadata=key(schema.text, "where send journals and dry-run copies go"))


@dataclass(frozen=True)
class SectionConfig:
    """One [[section]]: a block of the letter and the rule that fills it."""

    id: str = field(metadata=key(_identifier, "the section's name, used by sources and the issue file"))
    title: str = field(metadata=key(schema.text, "the section's heading in the letter"))
    kind: SectionKind = field(default="news", metadata=key(schema.choice("news", "agenda"),
                                                           "news (recent items) or agenda (coming events)"))
    max_items: int = field(default=10, metadata=key(schema.positive_int, "at most this many items"))
    window_days: int = field(default=31, metadata=key(schema.positive_int, "news of the last so many days"))
    horizon_days: int = field(default=DEFAULT_HORIZON_DAYS,
                              metadata=key(schema.positive_int, "events of the next so many days"))
    default_image: str | None = field(default=None, metadata=key(schema.http_url, "the image of an item without one"))
    # Items an earlier letter carried may show again; None: yes for agenda, no for news.
    repeat: bool | None = field(default=None, metadata=key(schema.boolean,
                                                           "whether items of an earlier letter may show again"))
    audience: Audience = field(default="all", metadata=key(
        schema.choice("all", "members"), "members: the section is in the members' edition only"))


@dataclass(frozen=True)
class SourceConfig:
    """One [[source]]: where items come from and which section they feed."""

    name: str = field(metadata=key(_identifier, "the source's name in reports"))
    section: str = field(metadata=key(schema.text, "the id of the section it feeds"))
    url: str = field(metadata=key(schema.text, "a web address, or a file's path relative to sources.toml"))
    location: str = ""  # an absolute path or the URL, worked out from `url`
    format: str = field(default="", metadata=key(_format, "the format, when the url's extension does not say it"))
    timeout: float = field(default=10.0, metadata=key(schema.positive_seconds, "seconds to wait for a web source"))
    audience: Audience = field(default="all", metadata=key(
        schema.choice("all", "members"), "members: its items are in the members' edition only"))


@dataclass(frozen=True)
class SmtpConfig:
    """The [smtp] table: the server that sends the letter. The password is never here, only the NAME of
    the environment variable that holds it (password_env), and likewise the unsubscribe secret (secret_env)."""

    host: str = field(metadata=key(schema.line, "the SMTP server"))
    port: int = field(default=SMTP_PORTS["starttls"],  # when not given, the port of `security`
                      metadata=key(_port, "the server's port (587, 465 or 25 from security when not given)"))
    security: str = field(default="starttls", metadata=key(schema.choice("starttls", "ssl", "none"),
                                                           "starttls, ssl or none"))
    username: str | None = field(default=None, metadata=key(schema.line, "the login, if the server asks one"))
    password_env: str | None = field(default=None, metadata=key(
        _env_name, "the NAME of the environment variable holding the password"))
    rate: float | None = field(default=None, metadata=key(
        schema.positive(N_("messages per second (such as 10 or 0.5)")), "at most this many messages a second"))
    list_id: str | None = field(default=None, metadata=key(_list_id, "the List-Id header (RFC 2919)"))
    secret_env: str = field(default="DIGEST_SECRET", metadata=key(
        _env_name, "the NAME of the environment variable holding the unsubscribe secret"))
    timeout: float = field(default=30.0, metadata=key(schema.positive_seconds, "seconds to wait for the server"))
    retry_wait: float = field(default=60.0, metadata=key(schema.seconds,
                                                         "seconds before a 4xx is tried again in the same run"))
    # The envelope sender (MAIL FROM) that bounces go back to.
    return_path: str | None = field(default=None, metadata=key(_address, "the mailbox bounces go to"))
    # Each message's envelope sender names its recipient: local+<id>@domain.
    verp: bool = field(default=False, metadata=key(schema.boolean, "one envelope sender per recipient"))


@dataclass(frozen=True)
class FetchConfig:
    """The [fetch] table: how web sources are fetched and where their last good copies are kept."""

    concurrency: int = field(default=32, metadata=key(schema.positive_int, "connections in flight in all"))
    per_host: int = field(default=4, metadata=key(schema.positive_int, "connections to any one site"))
    deadline: float = field(default=60.0, metadata=key(schema.positive_seconds, "seconds for the whole collection"))
    connect_timeout: float = field(default=5.0, metadata=key(schema.positive_seconds, "seconds to connect"))
    max_bytes: int = field(default=10 * 1024 * 1024,
                           metadata=key(schema.positive_int, "the largest body, counted after decompression"))
    retries: int = field(default=2, metadata=key(schema.whole, "more tries after a timeout, a 5xx or a 429"))
    max_redirects: int = field(default=5, metadata=key(schema.whole, "redirects followed"))
    # None: no copy kept between runs (sources.toml's is .digest-cache/ beside it).
    cache_dir: Path | None = field(default=None, metadata=key(
        schema.text, "where last good copies are kept (.digest-cache/ beside sources.toml)"))


@dataclass(frozen=True)
class PreviewConfig:
    """The optional [preview] table: settings of the editorial desk (digest preview)."""

    # Where "M'envoyer un test" sends, unless other addresses are typed.
    test_to: tuple[str, ...] = field(default=(), metadata=key(_addresses, "where the desk's test letter goes"))


@dataclass(frozen=True)
class SubscribersConfig:
    """The [subscribers] table: where the subscriber store is (None: subscribers.sqlite beside sources.toml)."""

    path: Path | None = field(default=None, metadata=key(schema.text, "the subscriber store's file"))


def _colour(value: Any) -> str:
    """A CSS colour as every e-mail client reads it: #rgb or #rrggbb."""
    if not isinstance(value, str) or not re.fullmatch(r"#(?:[0-9a-fA-F]{3}){1,2}", value.strip()):
        raise ValueError(_("expected a colour written #rrggbb (such as #16365f), got {given!r}").format(given=value))
    return value.strip().lower()


def _logo_width(value: Any) -> int:
    number = schema.positive_int(value)
    if not 40 <= number <= 560:
        raise ValueError(_("expected a width between 40 and 560 pixels (the letter is 600 wide), got {number}").format(
                             number=number))
    return number


@dataclass(frozen=True)
class LookConfig:
    """The optional [look] table: the letter's logo and colours, without touching a template."""

    logo: str | None = field(default=None, metadata=key(schema.text, "the logo: a PNG or JPEG file beside "
                                                         "sources.toml, or an https address"))
    logo_dark: str | None = field(default=None, metadata=key(schema.text, "the logo for dark mode (optional)"))
    logo_alt: str | None = field(default=None, metadata=key(schema.line, "the logo's words when pictures are "
                                                             "off (default: the letter's title)"))
    logo_width: int = field(default=180, metadata=key(_logo_width, "the logo's width in the letter, in pixels"))
    header: str = field(default="#16365f", metadata=key(_colour, "the header and footer band, and items' titles"))
    accent: str = field(default="#e0592a", metadata=key(_colour, "section headings"))
    link: str = field(default="#1b4f8f", metadata=key(_colour, "links"))
    button: str = field(default="#1b4f8f", metadata=key(_colour, "buttons"))
    accent_dark: str = field(default="#f08a5d", metadata=key(_colour, "section headings in dark mode"))
    link_dark: str = field(default="#8ab8f0", metadata=key(_colour, "links in dark mode"))


def _origins(value: Any) -> tuple[str, ...]:
    """Sites whose pages may post the subscribe form: scheme://host[:port], nothing after."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(_('expected an array of site addresses, e.g. ["https://www.cites-unies-france.org"]'))
    found = []
    for origin in value:
        parsed = urlparse(origin)
        if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.path not in ("", "/") \
                or parsed.query or not origin.isascii():
            raise ValueError(_("{origin!r}: expected a site's address alone, such as 'https://www.example.org'").format(
                                 origin=origin))
        found.append(f"{parsed.scheme}://{parsed.netloc.lower()}")
    return tuple(found)


def _wording(value: Any) -> str:
    """A checkbox's wording: text whose line breaks and runs of spaces are one space (as a page shows it)."""
    return " ".join(schema.text(value).split())


DEFAULT_CONSENT = ("J’accepte de recevoir la lettre d’information mensuelle de Cités Unies France par e-mail. "
                   "Je peux me désinscrire à tout moment par le lien présent dans chaque lettre.")


@dataclass(frozen=True)
class SubscribeConfig:
    """The optional [subscribe] table: where people join the list (the form `digest serve` answers)."""

    url: str | None = field(default=None, metadata=key(schema.ascii_only(schema.http_url),
                                                       "the page where people subscribe (served by digest serve)"))
    # The checkbox's wording: every version is kept in the store, and each consent names the one it was given to.
    consent: str = field(default=DEFAULT_CONSENT, metadata=key(_wording, "the wording of the consent checkbox"))
    privacy_url: str | None = field(default=None, metadata=key(schema.http_url, "the privacy notice the form links to"))
    allowed_origins: tuple[str, ...] = field(default=(), metadata=key(
        _origins, "other sites whose pages may post the form (e.g. the association's site)"))
    record_ip: bool = field(default=False, metadata=key(schema.boolean, "keep the IP address with each consent"))
    pending_days: int = field(default=30, metadata=key(schema.positive_int,
                                                       "days an unconfirmed address is kept before deletion"))
    per_ip_hour: int = field(default=10, metadata=key(schema.positive_int,
                                                      "form posts one client network may make in an hour"))
    # A client is counted by its network: one home or one server holds a whole IPv6 /64.
    ipv6_prefix: int = field(default=64, metadata=key(schema.within(32, 128),
                                                      "the IPv6 network a client is counted by (its prefix length)"))
    # The association's domain sends confirmation mails to addresses nobody has confirmed: a ceiling for them all.
    mails_per_hour: int = field(default=100, metadata=key(
        schema.positive_int, "confirmation mails both forms may send in an hour, in all"))


@dataclass(frozen=True)
class ContributeConfig:
    """The optional [contribute] table: the form member authorities send their news through (`digest serve`)."""

    url: str | None = field(default=None, metadata=key(schema.ascii_only(schema.http_url),
                                                       "the page where members send news (served by digest serve)"))
    section: str | None = field(default=None, metadata=key(schema.line, "the member-news section it feeds"))
    # name;domains — e.g. "Ville de Nancy;nancy.fr mairie-nancy.fr": a contact at one of these is a member's.
    members: Path | None = field(default=None, metadata=key(schema.text, "a CSV of member authorities and their "
                                                                         "e-mail domains"))
    allowed_origins: tuple[str, ...] = field(default=(), metadata=key(
        _origins, "other sites whose pages may post the form (e.g. the association's site)"))
    max_text: int = field(default=3000, metadata=key(schema.positive_int, "the longest text, in characters"))
    per_ip_hour: int = field(default=5, metadata=key(schema.positive_int,
                                                     "contributions one client network may send in an hour"))


@dataclass(frozen=True)
class MembersConfig:
    """The optional [members] table: the association's member authorities."""

    # collectivite;domaines;site — e.g. "Ville de Nancy;nancy.fr mairie-nancy.fr;https://www.nancy.fr"
    file: Path | None = field(default=None, metadata=key(schema.text, "a CSV of member authorities: name, e-mail "
                                                                      "domains, site (beside sources.toml)"))


def _terms(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(_('expected an array of words or phrases, e.g. ["jumelage", "coopération décentralisée"]'))
    return tuple(schema.line(v) for v in value)


@dataclass(frozen=True)
class MemberSitesConfig:
    """The optional [member_sites] table: how a `member-sites` source reads the members' own sites and what of
    theirs it proposes (digest.collectors.topics says how an article is scored)."""

    topics: tuple[str, ...] | None = field(default=None, metadata=key(
        _terms, "words or phrases each enough to propose an article (default: digest's list, see the manual)"))
    more_topics: tuple[str, ...] = field(default=(), metadata=key(_terms, "added to topics"))
    context_topics: tuple[str, ...] | None = field(default=None, metadata=key(
        _terms, "words that count only beside another term, e.g. partenariat (default: digest's list)"))
    min_score: int = field(default=2, metadata=key(
        schema.positive_int, "the score an article needs to be proposed (a topic 2, in the title 3, a context "
                             "word 1)"))
    auto_score: int = field(default=0, metadata=key(
        schema.whole, "from this score an article goes into the letter without a click (0: never)"))
    recheck_days: int = field(default=30, metadata=key(
        schema.positive_int, "days before a site's feeds are looked for again"))
    silent_days: int = field(default=183, metadata=key(
        schema.positive_int, "a site with nothing new for longer is listed by `digest sources --members`"))


@dataclass(frozen=True)
class SendConfig:
    """The optional [send] table: who approves a letter before its list send, and sends at an hour."""

    approvers: tuple[str, ...] = field(default=(), metadata=key(
        _addresses, "who must approve a letter before its list send (each asked by mail)"))
    approval_url: str | None = field(default=None, metadata=key(
        schema.ascii_only(schema.http_url), "the page of digest serve the approvers' links open (default: "
                                            "/validation on the unsubscribe page's site)"))
    team: str | None = field(default=None, metadata=key(
        _address, "where the team's notices go: answers, scheduled sends (default: the From address)"))
    late_minutes: int = field(default=60, metadata=key(
        schema.positive_int, "a scheduled send found later than this (the server was down) is held, not sent"))


@dataclass(frozen=True)
class ReturnsConfig:
    """The optional [returns] table: what `digest bounces` trusts in the returns mailbox."""

    # Only the receiving server's own Authentication-Results header is believed: anyone can write one naming
    # another server.
    authserv_id: str | None = field(default=None, metadata=key(
        schema.text, "the authserv-id of the server receiving unsubscribe mails (its DMARC verdict is trusted)"))


@dataclass(frozen=True)
class Config:
    """The whole of sources.toml, checked."""

    path: Path
    letter: LetterConfig
    sections: tuple[SectionConfig, ...]
    sources: tuple[SourceConfig, ...]
    smtp: SmtpConfig | None = None
    fetch: FetchConfig = FetchConfig()
    subscribers: SubscribersConfig = SubscribersConfig()
    preview: PreviewConfig = PreviewConfig()
    returns: ReturnsConfig = ReturnsConfig()
    subscribe: SubscribeConfig = SubscribeConfig()
    look: LookConfig = LookConfig()
    contribute: ContributeConfig = ContributeConfig()
    send: SendConfig = SendConfig()
    members: MembersConfig = MembersConfig()
    member_sites: MemberSitesConfig = MemberSitesConfig()

    @property
    def member_sites_sources(self) -> tuple[SourceConfig, ...]:
        """The sources that read the members' own sites (format "member-sites")."""
        return tuple(s for s in self.sources if s.format == "member-sites")

    @property
    def members_file(self) -> Path | None:
        """The members file: [members] file, else the older [contribute] members (the same file)."""
        return self.members.file or self.contribute.members

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

    @property
    def subscribers_path(self) -> Path:
        """The subscriber store: [subscribers] path, else subscribers.sqlite beside sources.toml."""
        return self.subscribers.path or self.root / "subscribers.sqlite"

    @property
    def private_dir(self) -> Path:
        """Where send journals and dry-run copies go ([letter] private_dir, sends/ beside sources.toml)."""
        return self.root / self.letter.private_dir

    def section(self, section_id: str) -> SectionConfig:
        """The section with this id."""
        return next(s for s in self.sections if s.id == section_id)


# The tables of sources.toml, each with the dataclass that declares its keys.
TABLES: dict[str, type] = {"letter": LetterConfig, "section": SectionConfig, "source": SourceConfig,
                           "smtp": SmtpConfig, "fetch": FetchConfig, "subscribers": SubscribersConfig,
                           "preview": PreviewConfig, "returns": ReturnsConfig,
                           "subscribe": SubscribeConfig, "look": LookConfig, "contribute": ContributeConfig,
                           "send": SendConfig, "members": MembersConfig, "member_sites": MemberSitesConfig}


def declared_keys() -> list[tuple[str, str, str]]:
    """Every key of sources.toml as (table, key, help), from the dataclasses that declare them."""
    return [(table, name, help) for table, cls in TABLES.items() for name, help in schema.declared(cls)]


def load(path: Path, text: str | None = None) -> Config:
    """Read and check sources.toml (or `text`, a version of it not yet written); raise ConfigError listing every
    problem found."""
    path = Path(path)
    data = _read_toml(path) if text is None else tomllib.loads(text)
    problems = Problems(path)
    schema.check_unknown(data, TABLES, "top level", problems)
    letter = schema.read_table(_table(data, "letter", problems), LetterConfig, "[letter]", problems)
    sections = [schema.read_table(t, SectionConfig, f"[[section]] #{i}", problems)
                for i, t in enumerate(_tables(data, "section", problems), 1)]
    sources = [schema.read_table(t, SourceConfig, f"[[source]] #{i}", problems)
               for i, t in enumerate(_tables(data, "source", problems), 1)]
    _check_references(sections, sources, problems)
    letter["templates"] = _templates(letter["templates"], path, problems)
    smtp = _smtp(data, problems)
    fetch = _fetch(data, path, problems)
    subscribers = _subscribers(data, path, problems)
    preview = _optional(data, "preview", PreviewConfig, problems)
    returns = _optional(data, "returns", ReturnsConfig, problems)
    subscribe = _optional(data, "subscribe", SubscribeConfig, problems)
    look = _optional(data, "look", LookConfig, problems)
    contribute = _contribute(data, path, sections, problems)
    send = _optional(data, "send", SendConfig, problems)
    members = _members(data, path, problems)
    member_sites = _optional(data, "member_sites", MemberSitesConfig, problems)
    if send.approvers and smtp is None and "smtp" not in data:
        problems.add(_("[send] approvers"), _("the approvers are asked by mail: add an [smtp] table"))
    if problems.items:
        raise ConfigError(problems.items)
    root = path.resolve().parent
    return Config(
        path=path.resolve(),
        letter=LetterConfig(**letter),
        sections=tuple(_section(s) for s in sections),
        sources=tuple(SourceConfig(**{**s, "location": resolve_location(s["url"], root)}) for s in sources),
        smtp=smtp,
        fetch=fetch,
        subscribers=subscribers,
        preview=preview,
        returns=returns,
        subscribe=subscribe,
        look=look,
        contribute=contribute,
        send=send,
        members=members,
        member_sites=member_sites,
    )


def _members(data: Mapping[str, Any], path: Path, problems: Problems) -> MembersConfig:
    """[members]: its file is beside sources.toml and must exist."""
    table = _optional(data, "members", MembersConfig, problems)
    if table.file is None:
        return table
    found = path.resolve().parent / Path(table.file)  # an absolute path stays itself
    if not found.is_file():
        problems.add(_("[members] file"), _("{path}: file not found").format(path=found))
    return dataclasses.replace(table, file=found)


def _contribute(data: Mapping[str, Any], path: Path, sections: list[dict[str, Any]],
                problems: Problems) -> ContributeConfig:
    """[contribute]: its section must be a news section of this letter; its members file is beside sources.toml."""
    table = _optional(data, "contribute", ContributeConfig, problems)
    news = [s["id"] for s in sections if s.get("kind") == "news"]
    if table.url and table.section not in news:
        problems.add(_("[contribute] section"), _("expected the id of a news section of this letter, one of {ids}; "
                                               "got {given!r}").format(ids=", ".join(news), given=table.section))
    if table.members is not None:
        members = path.resolve().parent / Path(table.members)  # an absolute path stays itself
        if not members.is_file():
            problems.add(_("[contribute] members"), _("{path}: file not found").format(path=members))
        return dataclasses.replace(table, members=members)
    return table


def _section(values: dict[str, Any]) -> SectionConfig:
    # An upcoming event is worth announcing in every letter until it takes place; news is sent once.
    repeat = values["kind"] == "agenda" if values["repeat"] is None else values["repeat"]
    return SectionConfig(**{**values, "repeat": repeat})


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([_("{path}: file not found; pass the configuration with -c PATH").format(
            path=path)]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([_("{path}: cannot read: {exc}").format(path=path, exc=exc)]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([_("{path}: not valid TOML: {exc}").format(path=path, exc=exc)]) from None


def _table(data: Mapping[str, Any], key: str, problems: Problems) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        problems.add(key, _("expected a table [{key}]").format(key=key))
        return {}
    if not value:
        problems.add(f"[{key}]", _("missing; it needs at least title, base_url, unsubscribe_url and from"))
    return value


def _tables(data: Mapping[str, Any], key: str, problems: Problems) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        problems.add(key, _("expected an array of tables, written [[{key}]]").format(key=key))
        return []
    if not value:
        problems.add(f"[[{key}]]", _("none defined; add at least one [[{key}]] table").format(key=key))
    return value


def _check_references(sections: list[dict[str, Any]], sources: list[dict[str, Any]], problems: Problems) -> None:
    section_ids = [s["id"] for s in sections if s["id"]]
    for duplicate in sorted({i for i in section_ids if section_ids.count(i) > 1}):
        problems.add("[[section]]", _("id '{duplicate}' is used more than once").format(duplicate=duplicate))
    names = [s["name"] for s in sources if s["name"]]
    for duplicate in sorted({n for n in names if names.count(n) > 1}):
        problems.add("[[source]]", _("name '{duplicate}' is used more than once").format(duplicate=duplicate))
    for number, source in enumerate(sources, 1):
        if source["section"] and source["section"] not in section_ids:
            hint = difflib.get_close_matches(source["section"], section_ids, n=1)
            known = _("did you mean '{hint}'?").format(hint=hint[0]) if hint else _("sections are: {sections}").format(
                                                                  sections=', '.join(section_ids) or _('none'))
            problems.add(_("[[source]] #{number} ({source}) section").format(number=number, source=source['name']),
                         _("no section has id '{source}'; {known}").format(source=source['section'], known=known))
        if source["url"]:
            try:
                resolve_location(source["url"], Path("."))
            except ValueError as exc:
                problems.add(_("[[source]] #{number} ({source}) url").format(
                    number=number, source=source['name']), str(exc))
        if source["url"] and not source["format"]:
            try:
                source["format"] = guess_format(source["url"])
            except ValueError as exc:
                problems.add(_("[[source]] #{number} ({source}) format").format(
                    number=number, source=source['name']), str(exc))
        if source["format"] == "member-sites" and str(source["url"] or "").startswith(("http://", "https://")):
            problems.add(_("[[source]] #{number} ({source}) url").format(number=number, source=source['name']),
                         _("a member-sites source reads the members file (collectivite;domaines;site): give its "
                           "path, e.g. url = \"adherents.csv\""))


def guess_format(url: str) -> str:
    """The format a source's address suggests: its extension, else rss for a web address."""
    parsed = urlparse(url)
    suffix = Path(parsed.path).suffix.lower()
    from digest.collectors.formats import BY_EXTENSION, NAMES  # here, as in _format

    if suffix in BY_EXTENSION:
        return BY_EXTENSION[suffix]
    if parsed.scheme in ("http", "https"):
        return "rss"
    raise ValueError(_("cannot tell the format of {url!r} from its name; add format = one of {formats}").format(
                         url=url, formats=', '.join(NAMES)))


def resolve_location(url: str, root: Path) -> str:
    """An absolute file path or an http(s) URL for a source's `url` (relative paths start at root)."""
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https"):
        return url
    if parsed.scheme == "file":
        return str(Path(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:
        raise ValueError(_("unsupported address scheme '{scheme}:'; use a path, file:// or http(s)://").format(
                             scheme=parsed.scheme))
    return str((root / url).resolve())


def _templates(configured: str | None, path: Path, problems: Problems) -> tuple[Path, ...]:
    """Where templates are looked for: the configured folder (else templates/ beside sources.toml, if there),
    then the stock templates inside the package, so a user's folder may hold only the templates it changes."""
    stock = package_templates()
    if configured:
        folder = (path.parent / configured).resolve()
        if not folder.is_dir():
            problems.add(_("[letter] templates"), _("{folder} is not a folder; run `digest init --templates` to copy "
                                                 "the stock templates there, or remove the key to use them as they "
                                                 "are").format(folder=folder))
        return (folder, stock)
    beside = (path.parent / "templates").resolve()
    return (beside, stock) if beside.is_dir() and beside != stock else (stock,)


def package_templates() -> Path:
    """The stock templates shipped inside the package (templates/ of the repository, as digest.templates)."""
    from importlib.resources import files

    return Path(str(files("digest.templates"))).resolve()


def _smtp(data: Mapping[str, Any], problems: Problems) -> SmtpConfig | None:
    """The optional [smtp] table; a password written in the file is refused, never read."""
    table = data.get("smtp")
    if table is None:
        return None
    if not isinstance(table, dict):
        problems.add("smtp", _("expected a table [smtp]"))
        return None
    for word in ("password", "pass", "secret"):
        if word in table:
            problems.add(_("[smtp] {word}").format(
                word=word), _("never write a password or secret in this file; set password_env (or "
                                             "secret_env) to the NAME of an environment variable and export it "
                                             "before sending"))
    values = schema.read_table({k: v for k, v in table.items() if k not in ("password", "pass", "secret")},
                               SmtpConfig, "[smtp]", problems)
    if values["username"] and not values["password_env"]:
        problems.add(_("[smtp] password_env"), _("username is set but password_env is not; name the environment "
                                              "variable that holds the password, e.g. password_env = "
                                              '"DIGEST_SMTP_PASSWORD"'))
    if values["verp"] and not values["return_path"]:
        problems.add(_("[smtp] verp"), _("verp = true needs return_path, the mailbox bounces go to, e.g. return_path "
                                      '= "lettre-retour@cites-unies-france.org"'))
    if values["host"] is None or values["security"] is None:
        return None  # already a problem
    if "port" not in table:
        values["port"] = SMTP_PORTS[values["security"]]
    return SmtpConfig(**values)


def _fetch(data: Mapping[str, Any], path: Path, problems: Problems) -> FetchConfig:
    """The optional [fetch] table; cache_dir is relative to sources.toml."""
    table = data.get("fetch", {})
    if not isinstance(table, dict):
        problems.add("fetch", _("expected a table [fetch]"))
        table = {}
    values = schema.read_table(table, FetchConfig, "[fetch]", problems)
    values["cache_dir"] = path.resolve().parent / (values["cache_dir"] or ".digest-cache")
    return FetchConfig(**values)


def _subscribers(data: Mapping[str, Any], path: Path, problems: Problems) -> SubscribersConfig:
    """The optional [subscribers] table; path is relative to sources.toml."""
    table = data.get("subscribers", {})
    if not isinstance(table, dict):
        problems.add("subscribers", _("expected a table [subscribers]"))
        return SubscribersConfig()
    values = schema.read_table(table, SubscribersConfig, "[subscribers]", problems)
    return SubscribersConfig(path.resolve().parent / values["path"] if values["path"] else None)


def _optional(data: Mapping[str, Any], name: str, cls: type[T], problems: Problems) -> T:
    """An optional table whose values go as they are into `cls` (its defaults when the table is absent)."""
    table = data.get(name, {})
    if not isinstance(table, dict):
        problems.add(name, _("expected a table [{name}]").format(name=name))
        table = {}
    values = schema.read_table(table, cls, f"[{name}]", problems)
    return cls(**{k: v for k, v in values.items() if v is not None})
