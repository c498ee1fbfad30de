"""The public side: serve (unsubscribe page, forms, published letters) and subscribe-form (the form's HTML)."""

from __future__ import annotations

from pathlib import Path

import click

from digest import hosts, i18n
from digest.cli.common import config_option, loaded
from digest.i18n import _, ngettext


@click.command(name="subscribe-form")
@config_option
def subscribe_form(config_path: Path) -> None:
    """Print the subscribe form as HTML to paste into a page of the association's site (it posts to
    [subscribe] url, which `digest serve` answers)."""
    from digest.errors import DigestError
    from digest.web import subscribe

    cfg = loaded(config_path)
    if cfg.subscribe.url is None:
        raise DigestError(_("{path}: no [subscribe] url; add it (the form's address, served by digest serve)").format(
                              path=cfg.path))
    with i18n.speaking(cfg.letter.language):  # the form speaks to subscribers, in the letter's language
        click.echo(subscribe.snippet(cfg.subscribe.url, cfg.subscribe.consent, cfg.subscribe.privacy_url), nl=False)
    if not cfg.subscribe.allowed_origins:
        click.echo(_("warning: [subscribe] allowed_origins is empty: the form posted from another site is refused; "
                     'add that site\'s address, e.g. allowed_origins = ["https://www.example.org"]'), err=True)
    if cfg.subscribe.privacy_url is None:
        click.echo(_("warning: no [subscribe] privacy_url: the form does not link to the privacy notice"), err=True)


@click.command(name="serve")
@config_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on: loopback behind the site's web server (a reverse proxy).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="The port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="How many processes answer (each a uvicorn worker).")
@click.option("--site", type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Also serve this folder of published letters (web versions, agenda .ics files).")
def serve_command(config_path: Path, host: str, port: int, workers: int, site: Path | None) -> None:
    """The public side: the unsubscribe page at the path of unsubscribe_url (one-click POST included), the
    subscribe form at the path of [subscribe] url and the contribution form at the path of [contribute] url (their
    confirmation mails sent by each worker) and, with --site, the published letters. Nothing else. Ctrl-C stops
    it."""
    from digest.web import public

    settings = public.settings_from(config_path, site)  # a broken configuration or a missing secret stops here
    public.check_port(host, port)  # a busy port: one clear line, exit 2
    if not hosts.is_loopback(host):
        click.echo(_("warning: listening on {host}; put the site's web server in front (see docs/serve.md)").format(
                       host=host), err=True)
    served = [_("the unsubscribe page ({path})").format(path=settings.path)]
    if settings.joining:
        served.append(_("the subscribe form ({path})").format(path=settings.joining.path))
    if settings.contributing:
        served.append(_("the contribution form ({path})").format(path=settings.contributing.path))
    if settings.approving:
        served.append(_("the approvers' page ({path})").format(path=settings.approving.path))
    if settings.site:
        served.append(_("the letters of {folder} ({path})").format(folder=settings.site, path=settings.site_path))
    if settings.post is not None:
        served.append(_("the scheduled sends"))
    listed = served[0] if len(served) == 1 else _("{first} and {last}").format(first=", ".join(served[:-1]),
                                                                             last=served[-1])
    click.echo(ngettext("On http://{host}:{port}, {count} process serves {served}; Ctrl-C stops it.",
                        "On http://{host}:{port}, {count} processes serve {served}; Ctrl-C stops them.",
                        workers).format(host=host, port=port, count=workers, served=listed))
    public.run(config_path, site, host, port, workers)


