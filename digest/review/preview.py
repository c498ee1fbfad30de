"""The letter under review for `digest preview`: rebuilt when its inputs change, and when the desk edits it.

A thread hears file-system events (watchfiles) on the inputs (sources.toml, the templates, the issue files,
local data files) and rebuilds; each rebuild bumps a version that the desk's open page hears through
server-sent events. A failed rebuild keeps the last good letter on show. The page itself is digest.review.desk.
"""

from __future__ import annotations

import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

import watchfiles

from digest import config, issuefile
from digest.edit import issueedit
from digest.errors import DigestError
from digest.i18n import _
from digest.model import Collected
from digest.pipeline import Built
from digest.proposals import Proposal
from digest.review import accept, check

# The sources as last read are kept for the rebuilds that follow an edit of the issue file (a click in the desk):
# read again when a local source file, sources.toml or the date changed, and at least this often (web sources).
RECOLLECT_SECONDS = 60.0
WATCH_STEP_MS = 20  # how long watchfiles waits for more changes before reporting a batch (a save is one batch)
STOP_CHECK_MS = 500  # how often the watcher looks at the stop flag when nothing changes


@dataclass
class Snapshot:
    """What the page shows: the last good letter, its report, and the last rebuild's error if it failed."""

    version: int = 0
    html: str | None = None
    text: str = ""
    subject: str = ""
    preheader: str = ""
    sender: str = ""
    letter_date: str = ""
    findings: list[check.Finding] = field(default_factory=list)
    built_at: datetime | None = None  # the page writes it in its reader's language
    seconds: float = 0.0
    error: str | None = None
    built: Built | None = None  # the last good build, for the desk's candidates and test sends
    issue_path: Path | None = None  # the issue file of the letter's month, and the version the build read
    issue_version: str = "absent"
    proposals: list[Proposal] = field(default_factory=list)  # the members' sites' articles waiting, numbered
    # False while the letter, already on show, waits for its check (`findings` not yet known): see checked()
    checked: bool = True


class Preview:
    """The letter under review: rebuilds it on demand or when a watched file changes, and tells waiters."""

    def __init__(self, config_path: Path, letter_date: date | None = None,
                 log: Callable[[str], None] = lambda _line: None, outbox: Path | None = None) -> None:
        self.config_path = Path(config_path)
        self.letter_date = letter_date
        self.outbox = outbox  # earlier letters there are not repeated (default: outbox/ beside sources.toml)
        self.log = log
        self.snapshot = Snapshot()
        self.changed = threading.Condition()
        self.stopping = threading.Event()
        self.building = threading.RLock()  # one build at a time: the watcher's and the desk's
        self.config: config.Config | None = None
        self._paths: set[Path] = {self.config_path}
        self._seen: dict[Path, int | None] = {}
        self._thread: threading.Thread | None = None
        self._sources: tuple[object, tuple[Collected, ...], float] | None = None  # (inputs, collected, when)

    def letter_day(self, cfg: config.Config) -> date:
        """The date of the letter under review: --date, else [letter] date, else today."""
        return self.letter_date or cfg.letter.date or date.today()

    def rebuild(self, *, check_later: bool = False) -> Snapshot:
        """Build the letter without writing it and check it; on failure keep the last good letter.

        `check_later` (the desk's clicks): the letter is published as soon as it is rendered, unchecked, so the
        editor sees the change at once; `checked()` checks it when the report is first asked for (by then the
        page has shown the letter: the check does not compete with it).
        """
        with self.building:
            return self._rebuild(check_later)

    def rebuild_if_changed(self) -> Snapshot | None:
        """Rebuild if a watched file changed since the last build (not when the desk's own write was built)."""
        with self.building:
            return self._rebuild() if mtimes(self._paths) != self._seen else None

    def _rebuild(self, check_later: bool = False) -> Snapshot:
        began = time.perf_counter()
        previous = self.snapshot
        try:
            cfg = config.load(self.config_path)
            self._paths = watched_paths(cfg)
        except DigestError as exc:
            self._seen = mtimes(self._paths)
            return self._publish(_failed(previous, exc.format_message()))
        self.config = cfg
        self._seen = mtimes(self._paths)  # taken before building: a change made during the build is seen next
        today = self.letter_day(cfg)
        issue_path = issuefile.path_for(cfg, today)
        issue_version = issueedit.version_of(issue_path)
        try:
            inputs = (cfg, today, sorted(mtimes(Path(s.location) for s in cfg.sources
                                                if not s.location.startswith(("http://", "https://"))).items()))
            kept = self._sources
            reuse = kept[1] if kept and kept[0] == inputs and time.monotonic() - kept[2] < RECOLLECT_SECONDS else None
            built = check.build_dry(cfg, today, self.outbox, reuse, empty_ok=True)
            if reuse is None:
                self._sources = (inputs, built.prepared.collected, time.monotonic())
            findings = [] if check_later else _judged(cfg, built, today)
        except DigestError as exc:
            return self._publish(_failed(previous, exc.format_message(), issue_path, issue_version, today))
        except Exception as exc:  # a bug must not stop the preview: show it, keep serving the last letter
            traceback.print_exc(file=sys.stderr)
            return self._publish(_failed(previous, f"{type(exc).__name__}: {exc}", issue_path, issue_version, today))
        rendered = built.rendered
        proposals = self._proposals(cfg, built)
        return self._publish(Snapshot(
            html=rendered.html, text=rendered.text, subject=rendered.subject, preheader=rendered.preheader,
            sender=built.letter.sender, letter_date=today.isoformat(), findings=findings,
            built_at=datetime.now(), seconds=time.perf_counter() - began, built=built,
            issue_path=issue_path, issue_version=issue_version, proposals=proposals, checked=not check_later))

    def checked(self) -> Snapshot:
        """The snapshot on show with its report: a letter the desk published unchecked is checked now, once."""
        if self.snapshot.checked:  # as it mostly is: no wait for a rebuild under way (a page asks this)
            return self.snapshot
        with self.building:
            snapshot = self.snapshot
            if snapshot.checked or snapshot.built is None or self.config is None:
                return snapshot
            try:
                findings = _judged(self.config, snapshot.built, snapshot.built.letter.date)
            except DigestError as exc:  # said once, not checked again at every question
                return self._publish(replace(_failed(snapshot, exc.format_message()), checked=True))
            except Exception as exc:  # a bug must not stop the preview: show it, keep serving the letter
                traceback.print_exc(file=sys.stderr)
                return self._publish(replace(_failed(snapshot, f"{type(exc).__name__}: {exc}"), checked=True))
            if snapshot.issue_path is not None:
                issueedit.read_ahead(snapshot.issue_path)  # the next click's change starts from it
            return self._publish(replace(snapshot, findings=findings, checked=True), same_letter=True)

    def _proposals(self, cfg: config.Config, built: Built) -> list[Proposal]:
        """The build's proposals, numbered in the store (here, in the build, never when a page is read)."""
        from digest import proposals

        try:
            return proposals.waiting(cfg, built.prepared.proposals)
        except DigestError as exc:  # a store that cannot be opened: the letter is still shown
            self.log(_("the proposals could not be numbered: {error}").format(error=exc.format_message()))
            return []

    def _publish(self, snapshot: Snapshot, same_letter: bool = False) -> Snapshot:
        """Put `snapshot` on show and tell the waiters; a new letter gets the next version, its report
        (`same_letter`) keeps the letter's."""
        with self.changed:
            snapshot.version = self.snapshot.version + (0 if same_letter else 1)
            self.snapshot = snapshot
            self.changed.notify_all()
        if snapshot.error:
            self.log(_("rebuild failed: {error}").format(error=snapshot.error))
        elif snapshot.checked:
            self.log(_("rebuilt in {ms} ms: {summary}").format(ms=round(snapshot.seconds * 1000),
                                                                 summary=check.summary(snapshot.findings)))
        return snapshot

    def wait(self, seen_version: int, timeout: float | None) -> Snapshot:
        """The snapshot once its version differs from `seen_version`, or after `timeout` seconds."""
        with self.changed:
            self.changed.wait_for(lambda: self.snapshot.version != seen_version or self.stopping.is_set(),
                                  timeout)
            return self.snapshot

    def start_watching(self, timeout: float | None = None) -> Snapshot:
        """Build, then rebuild whenever a watched file changes, appears or goes (file-system events).

        Every build of the watcher runs in one background thread, never in a thread that already runs an event
        loop; this returns once the first build is done, or after `timeout` seconds.
        """
        self._thread = threading.Thread(target=self._watch, name="digest-preview-watch", daemon=True)
        self._thread.start()
        return self.wait(0, timeout)

    def _watch(self) -> None:
        self.rebuild()
        while not self.stopping.is_set():
            folders = watched_folders(self._paths)
            for _changes in watchfiles.watch(*folders, stop_event=self.stopping, step=WATCH_STEP_MS,
                                             rust_timeout=STOP_CHECK_MS, yield_on_timeout=True, recursive=False,
                                             watch_filter=None, raise_interrupt=False):
                if self.stopping.is_set():
                    return
                self.rebuild_if_changed()
                if watched_folders(self._paths) != folders:
                    break  # sources.toml now names other folders: watch those

    def stop(self) -> None:
        """Stop watching and release every open event stream."""
        self.stopping.set()
        with self.changed:
            self.changed.notify_all()
        if self._thread:
            self._thread.join(timeout=5)


def _judged(cfg: config.Config, built: Built, today: date) -> list[check.Finding]:
    """The letter's findings as `digest check` shows them: the template's accepted ones are not the editors'
    business."""
    findings, _accepted = accept.split(check.judge(cfg, built, today), accept.load(cfg.letter.templates))
    return findings


def watched_paths(cfg: config.Config) -> set[Path]:
    """sources.toml, every file of the template folder, the issue files, and the sources that are local files."""
    paths = {cfg.path}
    for templates in cfg.letter.templates:
        paths.update(p for p in templates.rglob("*") if p.is_file())
        paths.update(templates / name for name in config.TEMPLATE_NAMES)
    paths.add(cfg.root / "issues")  # its mtime changes when an issue file is added or removed
    paths.update((cfg.root / "issues").glob("*.toml"))
    paths.update(Path(s.location) for s in cfg.sources if not s.location.startswith(("http://", "https://")))
    return paths


def watched_folders(paths: Iterable[Path]) -> tuple[Path, ...]:
    """The existing folders that hold the watched paths (each watched alone, not its subfolders)."""
    folders = {path if path.is_dir() else path.parent for path in paths}
    while any(not f.is_dir() for f in folders):  # a folder not made yet: watch where it will appear
        folders = {f if f.is_dir() else f.parent for f in folders}
    return tuple(sorted(folders))


def mtimes(paths: Iterable[Path]) -> dict[Path, int | None]:
    """Each path's modification time in nanoseconds, None for a missing file."""
    found: dict[Path, int | None] = {}
    for path in paths:
        try:
            found[path] = path.stat().st_mtime_ns
        except OSError:
            found[path] = None
    return found


def _failed(previous: Snapshot, message: str, issue_path: Path | None = None,
            issue_version: str | None = None, day: date | None = None) -> Snapshot:
    """The previous snapshot (its letter and report, or its letter still to check) with the new error, and the
    issue file (and the date) of the letter the build was for: a change the desk makes goes to that letter's
    file, never today's."""
    return Snapshot(html=previous.html, text=previous.text, subject=previous.subject, preheader=previous.preheader,
                    sender=previous.sender, letter_date=day.isoformat() if day else previous.letter_date,
                    findings=previous.findings, built_at=previous.built_at, seconds=previous.seconds,
                    error=message, built=previous.built, issue_path=issue_path or previous.issue_path,
                    issue_version=previous.issue_version if issue_version is None else issue_version,
                    checked=previous.checked)


DARK_QUERY = re.compile(r"\(\s*prefers-color-scheme\s*:\s*(dark|light)\s*\)", re.IGNORECASE)


def dark(html: str) -> str:
    """The letter as a client in dark mode that honours its prefers-color-scheme styles shows it."""
    forced = DARK_QUERY.sub(lambda m: "(min-width: 0px)" if m.group(1).lower() == "dark" else "(max-width: -1px)",
                            html)
    return forced.replace("</head>", "<style>:root { color-scheme: dark; }</style></head>", 1)


