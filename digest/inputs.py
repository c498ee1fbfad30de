"""The fingerprint of a letter's inputs: every file it was built from, hashed at build time (kept in its folder by
digest.letterfolder), so that `send`, `export` and `publish` can tell a letter whose files changed since (a stale
build)."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from datetime import date
from pathlib import Path

from digest.config import TEMPLATE_NAMES, Config, package_templates

# A template can name another only in one of these tags: one without any needs no parse (a fortieth of a
# second per template, on every build), one with any is parsed, so a tag inside {% raw %} fools nobody.
REFERS = re.compile(r"\{%[-+]?\s*(?:extends|include|import|from)\b")

def files(cfg: Config, day: date) -> dict[str, Path]:
    """Each file the letter dated `day` is built from, by the name the user knows it by."""
    from digest import issuefile

    found = {_label(cfg, cfg.path): cfg.path, _label(cfg, issuefile.path_for(cfg, day)): issuefile.path_for(cfg, day)}
    found.update((_label(cfg, path), path) for path in templates_used(cfg.letter.templates))
    for source in cfg.sources:
        if source.location.startswith(("http://", "https://")):
            cached = cfg.cache_dir / f"{source.name}.cache"  # the last good body the build read (collectors/cache)
            found[f"{_label(cfg, cached)} (web source {source.name})"] = cached
        else:
            found[_label(cfg, Path(source.location))] = Path(source.location)
    return found


def fingerprint(cfg: Config, day: date) -> dict[str, str | None]:
    """Each input's SHA-256 (None for a file that is not there, such as an issue file not written yet)."""
    return {label: _hash(cfg, path) for label, path in sorted(files(cfg, day).items())}


def templates_used(folders: tuple[Path, ...]) -> list[Path]:
    """The template files a render loads: the letter's two and every one they include, extend or import."""
    import jinja2
    from jinja2 import meta

    env = jinja2.Environment(loader=jinja2.FileSystemLoader([str(f) for f in folders]))
    seen: dict[str, Path] = {}
    todo = list(TEMPLATE_NAMES)
    while todo:
        name = todo.pop()
        try:
            source, filename, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
            references = list(meta.find_referenced_templates(env.parse(source))) if REFERS.search(source) else []
        except jinja2.TemplateError:
            continue  # a missing or broken template fails the build itself, with its own message
        seen[name] = Path(filename or name)
        todo.extend(r for r in references if r and r not in seen)
    return list(seen.values())


def _label(cfg: Config, path: Path) -> str:
    """The path relative to sources.toml's folder when under it (so a copied project still matches); a stock
    template by its name in the package (so an install elsewhere still matches)."""
    for base, prefix in ((cfg.root.resolve(), ""), (package_templates(), "digest.templates/")):
        try:
            return prefix + str(path.resolve().relative_to(base))
        except ValueError:
            continue
    return str(path)


def _hash(cfg: Config, path: Path) -> str | None:
    if path == cfg.path:
        return _settings_hash(path)
    try:
        return _file_hash(path)
    except OSError:
        return None


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _settings_hash(path: Path) -> str | None:
    """sources.toml's letter settings: all but [smtp] and [send], which change how the letter goes, not what it
    says (a letter built before approvers were named is still the letter they approve)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    data.pop("smtp", None)
    data.pop("send", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode("utf-8")).hexdigest()
