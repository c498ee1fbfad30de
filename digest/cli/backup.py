"""Safekeeping: `digest backup DEST` and `digest restore SRC` (the work is digest.backup's)."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.common import ask_first, config_option, loaded
from digest.i18n import _


@click.command(name="backup")
@config_option
@click.argument("dest", type=click.Path(path_type=Path))
def backup_command(config_path: Path, dest: Path) -> None:
    """Copy everything private (the subscriber store, the send journals, sources.toml, the issue files) into the
    new folder DEST, readable by you only, with a manifest; safe while `digest serve` runs."""
    from digest import backup

    manifest = backup.backup(loaded(config_path), dest)
    click.echo(_("Backup written to {dest}: {count} file(s), store version {version}, digest {digest}.").format(
                   dest=dest, count=len(manifest.files), version=manifest.store_version,
                   digest=manifest.digest_version))


@click.command(name="restore")
@config_option
@click.argument("src", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--yes", is_flag=True, help="Answer yes to the question restore asks first (for scripts).")
def restore_command(config_path: Path, src: Path, yes: bool) -> None:
    """Put a backup made by `digest backup` back in place (stop `digest serve` first). It shows what it replaces
    and asks; the store it replaces is copied into subscribers-backups/ first, and every address erased in it
    is erased again from what comes back."""
    from digest import backup

    cfg = loaded(config_path)
    manifest = backup.check(src)  # a newer or changed backup is refused before anything is asked
    click.echo(_("Backup of {made} by digest {digest}: {count} file(s), replacing {store}, {sends}/, "
                 "{issues}/ and {sources}.").format(
                   made=manifest.made, digest=manifest.digest_version, count=len(manifest.files),
                   store=cfg.subscribers_path, sends=cfg.private_dir, issues=cfg.root / backup.ISSUES,
                   sources=cfg.path))
    if not ask_first(_("Restore? [y/N]"), yes, _("restore replaces files and asks first; there is no terminal to "
                                                 "ask: add --yes. Nothing restored.")):
        click.echo(_("Nothing restored."))
        raise SystemExit(1)
    done = backup.restore(cfg, src)
    click.echo(_("Restored {count} file(s) from {src}.").format(count=len(done.files), src=src))
    if done.previous_store is not None:
        click.echo(_("The store it replaced is kept at {path}.").format(path=done.previous_store))
    if done.erased_again:
        click.echo(_("{count} address(es) erased since the backup were erased again.").format(count=done.erased_again))
