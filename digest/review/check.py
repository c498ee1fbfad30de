"""The pre-send report: everything wrong with a built letter, as a list of findings.

Each check reads what the build made (the HTML, the text, the .eml bytes, the Letter) and returns findings
with a level: an error is something a reader would meet (a clipped letter, a dead `javascript:` link, no way to
unsubscribe, an event already over); a warning is worth a look before sending.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import lxml.html

from digest import __version__, i18n, letterfolder, pipeline
from digest.collectors import health
from digest.config import Config
from digest.i18n import N_, _, ngettext
from digest.model import Collected, Item, Letter
from digest.pipeline import Built
from digest.renderer import size_problem
from digest.review import cssdata
from digest.selector import canonical_url, event_last_day, event_start

Level = Literal["error", "warning"]

LEVELS = {"error": N_("error"), "warning": N_("warning")}  # a finding's level as shown (translated there)
# Each check as the team reads it (its id stays what --accept and check-accept.toml name).
CHECKS = {"broken-link": N_("broken link"), "build": N_("build"), "contrast": N_("contrast"),
          "duplicate-url": N_("same link twice"), "empty": N_("empty letter"), "empty-section": N_("empty section"),
          "image-alt": N_("image text"), "image-width": N_("image size"), "link-scheme": N_("link address"),
          "logo": N_("logo"), "no-date": N_("no date"), "past-event": N_("past event"),
          "picture": N_("picture not online"), "preheader": N_("preview text"), "private-link": N_("private link"),
          "source": N_("source"), "stale-source": N_("stale source"), "subject": N_("subject"),
          "unsubscribe": N_("unsubscribe"), "version": N_("digest version"), "css": N_("CSS"),
          "size": N_("size"), "members-only": N_("for members?")}
MEMBERS_ONLY = re.compile(r"r[ée]serv[ée]e?s?\s+aux\s+(?:collectivit[ée]s\s+)?adh[ée]rent|members[ -]only",
                          re.IGNORECASE)  # an item that says it is for members (the CUF site's own words)
SUBJECT_LENGTH = 60  # desktop inboxes cut subjects at about 60-70 characters, phones at about 35-40
PREHEADER_LENGTH = 110  # inbox previews show about 90-110 characters; spam filters dislike long hidden text
ALT_LENGTH = 100  # longer, it no longer fits a picture's box when pictures are blocked
UNSUBSCRIBE_WORDS = re.compile(r"d[ée]sinscri|d[ée]sabonn|unsubscribe", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    """One thing the report says: its level, the check that found it, what is wrong and where.

    `detail` is the longer story (`digest check -v`); `topic` names what the check found when one check
    finds several kinds of thing (the CSS feature, e.g. css-border-radius). `uid` and `url` say which item,
    picture or link it is about, as data (the desk links a finding to its item by them, never by its words).
    """

    level: Level
    check: str
    message: str
    where: str = "letter"
    detail: str = ""
    topic: str = ""
    uid: str = ""
    url: str = ""
    edition: str = ""  # "members": found in the members' edition only

    def __str__(self) -> str:
        return f"{_(LEVELS[self.level])}: {self.place}: {self.message}"

    @property
    def place(self) -> str:
        """Where, as the reader reads it (the letter as a whole is named in their language)."""
        where = _("letter") if self.where == "letter" else self.where
        return _("{where} (members' edition)").format(where=where) if self.edition == "members" else where

    @property
    def key(self) -> str:
        """What `--accept` and check-accept.toml name: the topic, else the check."""
        return self.topic or self.check

    @property
    def label(self) -> str:
        """The check, as the team reads it."""
        return _(CHECKS[self.check]) if self.check in CHECKS else self.check

    def line(self, label: str | None = None) -> str:
        """The finding on one line: level (or `label`, e.g. "accepted"), check, where (which names the topic),
        what."""
        return f"{label or _(LEVELS[self.level]):<8} {self.label:<16} {self.place}: {self.message}"


def build_and_check(cfg: Config, today: date, sent_in: Path | None = None,
                    collected: tuple[Collected, ...] | None = None, *, empty_ok: bool = False
                    ) -> tuple[Built, list[Finding]]:
    """Build the letter without writing anything (`build_dry`), then check it (`judge`): what `digest check` and
    `digest preview` show. `collected` (the sources as read for an earlier build of the same inputs) spares
    reading them again.
    """
    built = build_dry(cfg, today, sent_in, collected, empty_ok=empty_ok)
    return built, judge(cfg, built, today)


def build_dry(cfg: Config, today: date, sent_in: Path | None = None,
              collected: tuple[Collected, ...] | None = None, *, empty_ok: bool = False) -> Built:
    """The letter built without writing anything, leaving out what letters in `sent_in` (default: the outbox)
    carried to a list send that began, as `digest build` would."""
    from digest.delivery import journal

    return pipeline.build(cfg, today, out=None, sent_in=sent_in or cfg.outbox, sends=journal.sends(cfg),
                          collected=collected, empty_ok=empty_ok)


def judge(cfg: Config, built: Built, today: date) -> list[Finding]:
    """Every finding on a letter built for `today`: its editions' checks, and what the outbox and the pictures
    waiting for `digest publish` say of it."""
    empty = [] if built.prepared.letter.items else [Finding("error", "empty", _(
        "no item in any section yet: accept a contribution, add an article or pin one left out; the letter cannot "
        "be built or sent empty"))]
    records = health.load(cfg.cache_dir)
    public = run(built, records)
    return ordered([*empty, *public, *members_edition(built, public, records), *built_by_another(cfg.outbox, today),
                    *not_yet_published(cfg, {i.image for i in built.prepared.letter.items if i.image}, today)])


def members_edition(built: Built, public: list[Finding], records: Mapping[str, health.Record] | None = None
                    ) -> list[Finding]:
    """The members' edition judged as the public one was (Gmail's clip, links, past events…): what it adds to
    the public edition's findings `public`."""
    view = built.members_view
    if view is None:
        return []
    seen = {(f.level, f.check, f.message, f.where, f.uid, f.url) for f in public}
    return [replace(f, edition="members") for f in run(view, records)
            if (f.level, f.check, f.message, f.where, f.uid, f.url) not in seen and f.check not in ("source", "build")]


def not_yet_published(cfg: Config, shown: set[str], day: date) -> list[Finding]:
    """An error for each contributed picture the letter shows that `digest publish` has not put out yet."""
    from digest.contribute.moderate import unpublished

    return [Finding("error", "picture", _("the picture {name} is not on the web yet: readers would see it "
                                          "broken; run `digest publish DEST --date {day}` and copy DEST to the "
                                          "server before sending").format(name=name, day=day.isoformat()))
            for name in unpublished(cfg, shown)]


def built_by_another(outbox: Path, today: date) -> list[Finding]:
    """The letter of that date in the outbox, when another digest built it: built again, it may differ."""
    if not (letterfolder.path(outbox, today) / letterfolder.RECORD).is_file():
        return []
    try:
        other = letterfolder.read_built(outbox, today).other_version
    except letterfolder.LetterNotBuilt:
        return []
    if other is None:
        return []
    return [Finding("warning", "version", _("the letter in the outbox was built by digest {version}, not by this "
                                            "one ({ours}): `digest build` makes it with this one").format(
                                              version=other, ours=__version__), letterfolder.path(outbox, today).name)]


def run(built: Built, records: Mapping[str, health.Record] | None = None,
        css_table: cssdata.Table | None = None) -> list[Finding]:
    """Every check on a built letter (with the sources' health records, if any); errors first, then warnings."""
    document = lxml.html.document_fromstring(built.rendered.html.encode("utf-8"))
    prepared = built.prepared
    findings = [
        *size(built.rendered.html),
        *images(document),
        *links(document),
        *unsubscribe(document, built.rendered.text, built.eml, built.letter),
        *sections(built.letter, built.config),
        *agenda(built.letter),
        *undated(built.letter),
        *duplicates(built.letter),
        *subject_and_preheader(built.rendered.subject, built.rendered.preheader),
        *sources(prepared.collected, built.config, built.letter.date, records),
        *(Finding("warning", "build", p.message, p.where) for p in prepared.problems),
        *css(built.rendered.html, css_table),
        *colours(built.letter),
        *logo_weight(prepared.files),
        *said_for_members(prepared.letter),
    ]
    return ordered(findings)


def said_for_members(letter: Letter) -> list[Finding]:
    """An item for every reader whose words say it is for members (« réservé aux adhérents »): proposed for the
    members' edition, for the team to confirm."""
    return [Finding("warning", "members-only", _("“{title}” says it is for members: mark it « Reserved for members » "
                                                 "in the desk (or audience = \"members\") to keep it out of the "
                                                 "public edition").format(title=_short(item.title, 60)),
                    uid=item.uid, url=item.url or "")
            for item in letter.items if item.audience == "all" and MEMBERS_ONLY.search(f"{item.title} {item.summary}")]


def colours(letter: Letter) -> list[Finding]:
    """Each [look] colour whose contrast fails WCAG AA, light or dark, with the nearest passing shade."""
    from digest import look

    return [Finding("error", "contrast", verdict.words(), _("sources.toml [look]"), topic=verdict.key)
            for verdict in look.verdicts(letter.look) if not verdict.passes]


def logo_weight(files: Mapping[str, bytes]) -> list[Finding]:
    """A logo heavier than 30 KB: every copy carries a link to it, every reader downloads it."""
    from digest import look

    return [Finding("warning", "logo", _("the logo weighs {size_kb} KB (over {limit_kb} KB): every reader downloads "
                                         "it; give a smaller picture or a narrower logo_width").format(
                                           size_kb=len(data) // 1024, limit_kb=look.MAX_LOGO_BYTES // 1024),
                    f"outbox/<date>/{name}") for name, data in files.items() if len(data) > look.MAX_LOGO_BYTES]


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Errors first, then warnings, each in the order found."""
    return sorted(findings, key=lambda f: f.level != "error")


def errors(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that are errors."""
    return [f for f in findings if f.level == "error"]


def summary(findings: Sequence[Finding]) -> str:
    """'2 errors, 9 warnings' or 'no problem found'."""
    count_errors = len(errors(findings))
    count_warnings = len(findings) - count_errors
    if not findings:
        return _("no problem found")
    return ", ".join((ngettext("{count} error", "{count} errors", count_errors).format(count=count_errors),
                      ngettext("{count} warning", "{count} warnings", count_warnings).format(count=count_warnings)))


def size(html: str) -> list[Finding]:
    """The HTML's size against Gmail's clipping (the build's own size check)."""
    found = size_problem(html, letterfolder.HTML)
    return [Finding(found.level, "size", found.problem.message, found.problem.where)] if found else []


def images(document: lxml.html.HtmlElement) -> list[Finding]:
    """Images without alt text, without a width, or with an address an e-mail client will not load."""
    found: list[Finding] = []
    for image in document.iter("img"):
        src = (image.get("src") or "").strip()
        where = f"image {_short(src) or '(no src)'}"
        found.extend(replace(f, url=src) for f in _alt(image.get("alt"), where))
        if not image.get("width") and not re.search(r"(^|;)\s*width\s*:", image.get("style") or ""):
            found.append(Finding("warning", "image-width", _("no width: Outlook shows it at its full size, which "
                                                             'can break the layout; add width="…"'), where, url=src))
        found.extend(replace(f, url=src) for f in _address(src, where, image=True))
    return found


def _alt(alt: str | None, where: str) -> list[Finding]:
    """No alt attribute is wrong; alt="" is right for a decorative picture (a thumbnail beside its title)."""
    if alt is None:
        return [Finding("warning", "image-alt", _('no alt attribute: write alt="" if the picture only decorates, '
                                                  "else a short description"), where,
                        detail=_("screen readers then read the file name, and clients that block pictures show "
                                 "nothing useful in its place"))]
    if len(alt) > ALT_LENGTH:
        return [Finding("warning", "image-alt", _('alt text of {count} characters: keep it short, or alt="" if it '
                                                  "repeats the text beside the picture").format(count=len(alt)), where,
                        detail=_("with pictures blocked (Outlook's default) the alt text fills the picture's box, "
                                 "cut or spread over many lines"))]
    return []


def links(document: lxml.html.HtmlElement) -> list[Finding]:
    """Links that are not absolute https: http is a warning; javascript:, relative or empty links are errors."""
    found: list[Finding] = []
    for anchor in document.iter("a"):
        href = anchor.get("href")
        if href is None:
            continue
        text = " ".join(anchor.text_content().split())
        found.extend(replace(f, url=href.strip()) for f in _address(href.strip(),
                                                                     _("link “{text}” ({url})").format(
                                                                         text=_short(text, 50), url=_short(href)),
                                                                     image=False))
    return found


def _address(url: str, where: str, image: bool) -> list[Finding]:
    scheme = urlparse(url).scheme.lower()
    if scheme == "https" and urlparse(url).netloc:
        return []
    if scheme == "http":
        return [Finding("warning", "link-scheme", _("http, not https: clients flag it or block the picture, and "
                                                    "the click is not encrypted"), where)]
    if not image and scheme in ("mailto", "tel"):
        return []
    if image and scheme == "cid":
        return []
    if scheme in ("javascript", "vbscript"):
        return [Finding("error", "link-scheme", _("a {scheme}: address: mail clients refuse it or strip it").format(
                                                    scheme=scheme), where)]
    if scheme == "data":
        return [Finding("warning" if image else "error", "link-scheme",
                        _("a data: address: Gmail and Outlook do not show it"), where)]
    if not url or url.startswith("#"):
        return [Finding("warning", "link-scheme", _("an empty link, or one to a place in the page: it leads "
                                                    "nowhere in an e-mail"), where)]
    return [Finding("error", "link-scheme", _("not an absolute https address ({scheme}): it does not work from a "
                                              "mailbox").format(scheme=scheme or 'relative'), where)]


def unsubscribe(document: lxml.html.HtmlElement, text: str, eml: bytes, letter: Letter) -> list[Finding]:
    """A visible unsubscribe link in the body, in the text version, and the List-Unsubscribe headers."""
    found = []
    target = canonical_url(letter.unsubscribe_url)
    anchors = [a for a in document.iter("a") if a.get("href")]
    if not any(canonical_url(a.get("href", "")) == target or UNSUBSCRIBE_WORDS.search(a.text_content())
               for a in anchors):
        found.append(Finding("error", "unsubscribe", _("no unsubscribe link in the HTML body: Gmail and Yahoo "
                                                       "require a visible one for bulk mail"), letterfolder.HTML))
    if letter.unsubscribe_url not in text:
        found.append(Finding("warning", "unsubscribe", _("the text version does not give the unsubscribe address "
                                                         "{unsubscribe_url}").format(
                                                           unsubscribe_url=letter.unsubscribe_url), letterfolder.TEXT))
    headers = BytesHeaderParser(policy=default_policy).parsebytes(eml)
    header = headers.get("List-Unsubscribe")
    if not header:
        found.append(Finding("error", "unsubscribe", _("no List-Unsubscribe header: Gmail and Yahoo require it "
                                                       "(RFC 2369, with one-click RFC 8058)"), letterfolder.EML))
    elif "<https://" not in str(header):
        found.append(Finding("warning", "unsubscribe", _("List-Unsubscribe has no https address, so one-click "
                                                         "unsubscribe cannot work"), letterfolder.EML))
    if header and str(headers.get("List-Unsubscribe-Post", "")).strip() != "List-Unsubscribe=One-Click":
        found.append(Finding("warning", "unsubscribe", _("no 'List-Unsubscribe-Post: List-Unsubscribe=One-Click' "
                                                         "header (RFC 8058), which Gmail and Yahoo ask of bulk "
                                                         "senders"), letterfolder.EML))
    return found


def sections(letter: Letter, config: Config | None) -> list[Finding]:
    """Sections with no item: left out of the letter, or shown empty."""
    found = [Finding("warning", "empty-section", _("no item in this section"), _("section {id}").format(id=s.id))
             for s in letter.sections if not s.items]
    shown = {s.id for s in letter.sections}
    for section in config.sections if config else ():
        if section.id not in shown:
            found.append(Finding("warning", "empty-section", _("no item for “{title}”: the section is left out of "
                                                               "this letter").format(
                                                                   title=section.title), _("section {id}").format(
                                                                                       id=section.id)))
    return found


def agenda(letter: Letter) -> list[Finding]:
    """Events already over on the letter's date (agenda sections, and events in the featured block)."""
    tz = ZoneInfo(letter.timezone)
    found = []
    for section_id, kind, items in _groups(letter):
        for item in items:
            is_event = kind == "agenda" or item.start is not None
            if is_event and event_start(item) and event_last_day(item, tz) < letter.date:
                found.append(Finding("error", "past-event", _("the event is over on the letter's date "
                                                              "({day})").format(
                                                                day=i18n.day(letter.date)), _where(section_id,
                                                                item), uid=item.uid))
    return found


def undated(letter: Letter) -> list[Finding]:
    """Items without a date: news without a publication date, events without a start."""
    found = []
    for section_id, kind, items in _groups(letter):
        for item in items:
            if kind == "agenda" and event_start(item) is None:
                found.append(Finding("warning", "no-date", _("an event without a start date"),
                                     _where(section_id, item), uid=item.uid))
            elif kind != "agenda" and event_start(item) is None:
                found.append(Finding("warning", "no-date", _("no date: readers cannot tell how recent it is"),
                                     _where(section_id, item), uid=item.uid))
    return found


def _groups(letter: Letter) -> list[tuple[str, str, tuple[Item, ...]]]:
    """The featured block (when there is one) and each section: id, kind and items."""
    featured = [("featured", "featured", letter.featured)] if letter.featured else []
    return featured + [(s.id, s.kind, s.items) for s in letter.sections]


def duplicates(letter: Letter) -> list[Finding]:
    """The same page linked by two items (tracking parameters, www. and trailing slash ignored)."""
    first: dict[str, tuple[str, Item]] = {}
    found = []
    for section_id, _kind, items in _groups(letter):
        for item in items:
            if not item.url:
                continue
            key = canonical_url(item.url)
            if key in first:
                other_section, other = first[key]
                found.append(Finding("warning", "duplicate-url", _("the same page as “{other_title}” (section "
                                                                   "{other_section}): {url}").format(
                                                                     other_title=_short(other.title, 60),
                                                                     other_section=other_section, url=item.url),
                                     _where(section_id, item), uid=item.uid))
            else:
                first[key] = (section_id, item)
    return found


def subject_and_preheader(subject: str, preheader: str) -> list[Finding]:
    """The subject and preheader as an inbox shows them: present, not too long."""
    found = []
    if not subject.strip():
        found.append(Finding("error", "subject", _("the subject is empty"), _("subject")))
    elif len(subject) > SUBJECT_LENGTH:
        found.append(Finding("warning", "subject", _("{count} characters: inboxes cut subjects at about "
                                                     "{SUBJECT_LENGTH} on a desktop and 35-40 on a phone").format(
                                                       count=len(subject), SUBJECT_LENGTH=SUBJECT_LENGTH),
                             _("subject")))
    if not preheader.strip():
        found.append(Finding("warning", "preheader", _("no preheader: inboxes show the letter's first words instead"),
                             _("preheader")))
    elif len(preheader) > PREHEADER_LENGTH:
        found.append(Finding("warning", "preheader", _("{count} characters: inboxes show about 90-110, and spam "
                                                       "filters score long hidden text").format(
                                                           count=len(preheader)), _("preheader")))
    return found


def sources(collected: Sequence[Collected], config: Config | None, today: date,
            records: Mapping[str, health.Record] | None = None) -> list[Finding]:
    """Sources that failed, that gave nothing, that keep failing, or whose news is older than their window.

    `records` are the health records (digest sources); staleness is judged on the letter's date.
    """
    found = []
    rows = _health_rows(config, records, today)
    for result in collected:
        where = _("source {name}").format(name=result.source)
        if result.failed:
            reasons = "; ".join(p.message for p in result.problems) or _("it could not be read")
            found.append(Finding("error", "source", _("failed, so its items are missing: {reasons}").format(
                                                        reasons=reasons), where))
            continue
        found.extend(Finding("warning", "source", p.message, where) for p in result.problems)
        row = rows.get(result.source)
        if row and row.record and row.record.consecutive_failures and not result.problems:
            found.append(Finding("warning", "source", _("failed {consecutive_failures} time(s) in a row "
                                                        "({last_error}); the letter uses its last good copy").format(
                                                          consecutive_failures=row.record.consecutive_failures,
                                                          last_error=row.record.last_error or _("no reason recorded")),
                                 where))
        if not result.items:
            found.append(Finding("warning", "source", _("read no item"), where))
        elif stale := _stale(result, row, config, today):
            found.append(Finding("warning", "stale-source", stale, where))
    return found


def _health_rows(config: Config | None, records: Mapping[str, health.Record] | None,
                 today: date) -> dict[str, health.HealthRow]:
    if config is None or records is None:
        return {}
    end_of_day = datetime.combine(today, time(23, 59, 59), ZoneInfo(config.letter.timezone))
    return {row.source.name: row for row in health.rows(config, dict(records), end_of_day)}


def _stale(result: Collected, row: health.HealthRow | None, config: Config | None, today: date) -> str | None:
    """Why the source is stale on the letter's date, or None: from its health record, else from its items."""
    if row is not None and row.record is not None:
        newest = row.record.newest_item or row.record.last_new_item
        return (_("stale: nothing new since {newest}, longer than section {section}'s {window_days} days").format(
                    newest=newest[:10], section=row.source.section,
                    window_days=row.window_days)) if row.stale and newest else None
    if config is None:
        return None
    source = next((s for s in config.sources if s.name == result.source), None)
    section = config.section(source.section) if source else None
    dates = [i.date for i in result.items if i.date]
    if section is None or section.kind != "news" or not dates:
        return None
    newest_day = max(dates).astimezone(ZoneInfo(config.letter.timezone)).date()
    if newest_day >= today - timedelta(days=section.window_days):
        return None
    return (_("stale: its newest item is of {newest_day}, older than section {id}'s {window_days} days").format(
                newest_day=newest_day.isoformat(), id=section.id, window_days=section.window_days))


def css(html: str, table: cssdata.Table | None = None) -> list[Finding]:
    """CSS in the final HTML that Gmail, Outlook or another checked client ignores (caniemail's table)."""
    table = table or cssdata.load()
    found = []
    for d in cssdata.dropped(html, table):
        times = ngettext("once", "{count} times", d.usage.count).format(count=d.usage.count)
        found.append(Finding(
            "warning", "css", _("ignored by ") + ", ".join(c.name for c in d.clients),
            _("CSS {title} ({slug})").format(title=d.feature.title, slug=d.feature.slug), topic=d.feature.slug,
            detail=_("used {times}, in {places} (source: {source}, {url})").format(
                       times=times, places='; '.join(_("“{title}”").format(title=p) for p in d.usage.places),
                       source=table.source, url=d.feature.url)))
    return found


def _where(section_id: str, item: Item) -> str:
    return _("section {id}, “{title}”").format(id=section_id, title=_short(item.title, 60))


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def audience(cfg: Config) -> str | None:
    """The list's line of the report: sign-ups waiting for confirmation, and who joined and left since the
    newest letter in the outbox (None without a subscriber store)."""
    from digest.audience.joining import Signups

    if not cfg.subscribers_path.is_file():
        return None
    with Signups(cfg.subscribers_path) as store:
        pending, letters = store.pending_count(), letterfolder.dated(cfg.outbox)
        if not letters:
            return _("List: {pending} sign-up(s) waiting for confirmation").format(pending=pending)
        day = letters[-1][0]
        joined, left = store.growth(day)
    return _("List: {pending} sign-up(s) waiting for confirmation; since the letter of {day}: {joined} joined, "
             "{left} left (net {net:+d})").format(pending=pending, day=i18n.day(day), joined=joined, left=left,
                                                  net=joined - left)
