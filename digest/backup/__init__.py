"""`digest backup DEST` and `digest restore SRC`: a consistent copy of everything private, and putting it back.

A backup is a folder only its owner can read, holding:

- `subscribers.sqlite`: the private store, copied with SQLite's backup API (consistent even while `digest serve`
  writes to it);
- `sends/<date>/send-journal.sqlite` (the same way) and the letters' private log (`log.json`); not the dry run's
  copies, which a dry run makes again;
- `sources.toml`, `issues/` (the issue files and the accepted contributions' pictures);
- `manifest.json`: the digest version, when, the store's version, and each file's size and SHA-256.

It is written under a temporary name and renamed whole: a backup interrupted leaves no half-folder under DEST.

A restore checks the manifest first: a backup made by a newer digest (or holding a newer store) is refused, and so
is one whose files do not match their checksums (changed, damaged). It copies the store being replaced into
`subscribers-backups/` first, then puts every file back. **Erasures are re-applied**: the addresses erased in
the store being replaced (its keyed hashes) are erased again from what is restored — the store and the send
journals — so that a person erased after the backup stays erased.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from digest import __version__, issuefile
from digest.config import Config
from digest.errors import DigestError
from digest.files import PRIVATE, PRIVATE_FOLDER, private_files
from digest.i18n import _
from digest.letterfolder import DRY_RUN
from digest.store import Store, keyed, known_versions, store_version

MANIFEST = "manifest.json"
STORE = "subscribers.sqlite"
SENDS = "sends"
ISSUES = issuefile.FOLDER  # issues/ beside sources.toml, named where the issue file is read
SOURCES = "sources.toml"
JOURNAL_SUFFIX = ".sqlite"  # the private folder's SQLite files (the send journals): copied with the backup API


class BackupError(DigestError):
    """A backup cannot be made or restored; the message says why and what to do."""


@dataclass(frozen=True)
class Manifest:
    """What a backup holds: who made it and when, the store's version, each file's size and SHA-256."""

    digest_version: str
    made: str
    store_version: int
    files: dict[str, tuple[int, str]]


@dataclass(frozen=True)
class Restored:
    """What a restore did: the files put back, the copy of the replaced store, the erasures applied again."""

    files: list[str]
    previous_store: Path | None
    erased_again: int


def backup(cfg: Config, dest: Path) -> Manifest:
    """Copy everything private of `cfg` into the new folder `dest` (owner-only), with its manifest."""
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(_("{dest} already exists and is not empty: give a new folder for the backup").format(
                              dest=dest))
    dest.parent.mkdir(parents=True, exist_ok=True)
    with private_files():
        work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
        try:
            _copy_private(cfg, work)
            manifest = _manifest(work)
            (work / MANIFEST).write_text(json.dumps(_manifest_json(manifest), indent=2) + "\n", encoding="utf-8")
            _narrow_tree(work)
            if dest.exists():
                dest.rmdir()
            work.rename(dest)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return manifest


def read_manifest(src: Path) -> Manifest:
    """The manifest of the backup in `src`; BackupError when there is none or it cannot be read."""
    try:
        data = json.loads((src / MANIFEST).read_text(encoding="utf-8"))
        files = {str(name): (int(size), str(digest)) for name, (size, digest) in data["files"].items()}
        return Manifest(str(data["digest_version"]), str(data["made"]), int(data["store_version"]), files)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BackupError(_("{src} is not a digest backup ({exc}): give the folder `digest backup` made").format(
                              src=src, exc=exc)) from None


def check(src: Path) -> Manifest:
    """The backup's manifest once it is known usable here: not newer than this digest, every file as recorded."""
    manifest = read_manifest(src)
    if _newer(manifest.digest_version) or manifest.store_version > store_version(known_versions()):
        raise BackupError(_("{src} was made by digest {version} (store version {found}); this digest {ours} reads up "
                            "to store version {known}: restore it with that version or a newer one").format(
                              src=src, version=manifest.digest_version, found=manifest.store_version,
                              ours=__version__, known=store_version(known_versions())))
    changed = [name for name, (size, digest) in manifest.files.items() if _fingerprint(src / name) != (size, digest)]
    extra = [str(p.relative_to(src)) for p in src.rglob("*") if p.is_file() and p.name != MANIFEST
             and str(p.relative_to(src)) not in manifest.files]
    if changed or extra:
        raise BackupError(_("{src}: these files are not as the backup wrote them: {names}; nothing was restored "
                            "(use another backup)").format(src=src, names=", ".join(sorted([*changed, *extra]))))
    return manifest


def restore(cfg: Config, src: Path) -> Restored:
    """Put the backup in `src` back in place of `cfg`'s private files, after a copy of the store it replaces;
    the erasures that store recorded are applied again to what comes back."""
    manifest = check(src)
    erased, salt = _erasures(cfg.subscribers_path)
    previous = None
    if cfg.subscribers_path.is_file():
        with Store(cfg.subscribers_path) as replaced:
            previous = replaced.backup()
    targets = {STORE: cfg.subscribers_path, SENDS: cfg.private_dir, ISSUES: cfg.root / ISSUES, SOURCES: cfg.path}
    done = []
    with private_files():
        for name in sorted(manifest.files):
            head = name.split("/", 1)[0]
            target = targets[head] / name.split("/", 1)[1] if "/" in name else targets[head]
            target.parent.mkdir(parents=True, exist_ok=True)
            if head == STORE:
                for stale in (target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
                    stale.unlink(missing_ok=True)
            temporary = target.with_name(f".{target.name}.restoring")
            shutil.copyfile(src / name, temporary)
            os.chmod(temporary, PRIVATE if head in (STORE, SENDS) else 0o644)
            os.replace(temporary, target)
            done.append(name)
    return Restored(done, previous, _erase_again(cfg, erased, salt))


# --- inside ------------------------------------------------------------------------------------------------------

def _copy_private(cfg: Config, work: Path) -> None:
    if cfg.subscribers_path.is_file():
        with Store(cfg.subscribers_path) as store:
            store.backup(work / STORE)
    if cfg.private_dir.is_dir():
        for path in sorted(p for p in cfg.private_dir.rglob("*") if p.is_file()):
            relative = path.relative_to(cfg.private_dir)
            if path.name.endswith(("-wal", "-shm", ".lock")) or DRY_RUN in relative.parts:
                continue  # a SQLite file's companions (its copy is whole without them); the dry run's test copies
            target = work / SENDS / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.suffix == JOURNAL_SUFFIX:
                _sqlite_copy(path, target)
            else:
                shutil.copyfile(path, target)
    issues = cfg.root / ISSUES
    if issues.is_dir():
        shutil.copytree(issues, work / ISSUES, ignore=shutil.ignore_patterns(".*"))
    shutil.copyfile(cfg.path, work / SOURCES)


def _sqlite_copy(path: Path, target: Path) -> None:
    """A consistent copy of a SQLite file, even while another process writes to it."""
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")
    finally:
        copy.close()
        source.close()


def _fingerprint(path: Path) -> tuple[int, str] | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return len(data), hashlib.sha256(data).hexdigest()


def _manifest(work: Path) -> Manifest:
    files = {}
    for path in sorted(p for p in work.rglob("*") if p.is_file()):
        found = _fingerprint(path)
        assert found is not None
        files[str(path.relative_to(work))] = found
    version = 0
    if (work / STORE).is_file():
        db = sqlite3.connect(f"file:{work / STORE}?mode=ro", uri=True)
        try:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
        finally:
            db.close()
    return Manifest(__version__, datetime.now(UTC).isoformat(timespec="seconds"), version, files)


def _manifest_json(manifest: Manifest) -> dict[str, object]:
    return {"digest_version": manifest.digest_version, "made": manifest.made,
            "store_version": manifest.store_version,
            "files": {name: [size, digest] for name, (size, digest) in manifest.files.items()}}


def _narrow_tree(folder: Path) -> None:
    os.chmod(folder, PRIVATE_FOLDER)
    for path in folder.rglob("*"):
        os.chmod(path, PRIVATE_FOLDER if path.is_dir() else PRIVATE)


def _newer(version: str) -> bool:
    """Whether `version` is newer than this digest's (numbers compared part by part)."""
    def parts(text: str) -> tuple[int, ...]:
        return tuple(int(p) for p in text.split(".") if p.isdigit())
    return parts(version) > parts(__version__)


def _erasures(path: Path) -> tuple[set[str], bytes | None]:
    """The keyed hashes of the addresses erased in the store at `path`, and its key (nothing without a store)."""
    if not path.is_file():
        return set(), None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        salt = db.execute("SELECT value FROM meta WHERE key='salt'").fetchone()
        hashes = {h for (h,) in db.execute("SELECT hash FROM erased")}
    except sqlite3.Error:
        return set(), None
    finally:
        db.close()
    return hashes, bytes.fromhex(salt[0]) if salt else None


def _erase_again(cfg: Config, erased: set[str], salt: bytes | None) -> int:
    """Erase again, from the restored store and journals, every address whose hash the replaced store had."""
    if not erased or salt is None:
        return 0
    from digest.delivery import journal

    def was_erased(key: str) -> bool:
        return keyed(salt, key) in erased

    keys: set[str] = set()
    if cfg.subscribers_path.is_file():
        with Store(cfg.subscribers_path) as store:
            for table in ("subscriber", "pending", "contribution"):
                keys |= {k for (k,) in store.db.execute(f"SELECT key FROM {table} WHERE key IS NOT NULL")}
            for key in sorted(k for k in keys if was_erased(k)):
                store.erase(key, store.keyed_hash(key))
    for path in sorted(cfg.private_dir.rglob(journal.FILE_NAME)) if cfg.private_dir.is_dir() else []:
        with sqlite3.connect(path) as db:
            found = {k for (k,) in db.execute("SELECT key FROM recipient")}
        for key in sorted(k for k in found if was_erased(k)):
            journal.erase(path, key)
            keys.add(key)
    return len({k for k in keys if was_erased(k)})
