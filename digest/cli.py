"""The command line: parse, call the pipeline, report. No logic of its own."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import click

from digest import __version__, config, pipeline
from digest.model import Collected

CONFIG_HELP = "The configuration file (default: sources.toml in the current folder)."


def _parse_date(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2025-11-20") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="digest")
def main() -> None:
    """Build the e-mail letter from the sources named in sources.toml.

    Start with `digest build`, then open the letter.html it prints in a browser.
    """


@main.command()
@click.option("-c", "--config", "config_path", type=click.Path(path_type=Path), default="sources.toml",
              show_default=True, help=CONFIG_HELP)
@click.option("--date", "letter_date", callback=_parse_date, metavar="YYYY-MM-DD",
              help="The issue's date (default: [letter] date, else today). Names the outbox folder.")
@click.option("-o", "--outbox", "out", type=click.Path(path_type=Path),
              help="Where to write the letter (default: outbox/ beside sources.toml).")
@click.option("--strict", is_flag=True, help="Fail (exit 1, nothing written) when there is any warning.")
def build(config_path: Path, letter_date: date | None, out: Path | None, strict: bool) -> None:
    """Collect, select, render and write the letter to OUTBOX/<date>/.

    Writes letter.html (the e-mail), letter.txt (its text twin), letter.mjml, letter.eml (ready to send)
    and digest.json (what was selected). A source that fails is a warning; the rest is still built.
    """
    cfg = config.load(config_path)
    today = letter_date or cfg.letter.date or date.today()
    out = out or cfg.root / "outbox"
    click.echo(f"Building “{cfg.letter.title}” for {today.isoformat()} from {config_path}")
    report = pipeline.build(cfg, today, out, strict=strict, on_source=_print_source)
    _print_report(report, out)


def _print_source(result: Collected) -> None:
    status = "failed" if result.failed else f"{len(result.items)} items"
    click.echo(f"  read {result.source:<24} {status:>10}  ({result.seconds * 1000:.0f} ms)")


def _print_report(report: pipeline.Report, out: Path) -> None:
    assert report.letter is not None and report.rendered is not None
    click.echo("Sections:")
    for section in report.letter.sections:
        sources = ", ".join(f"{name} {n}" for name, n in Counter(i.source for i in section.items).items())
        click.echo(f"  {section.title} ({section.id}): {len(section.items)} kept, from {sources}")
    for note in report.notes:
        click.echo(f"  note: {note}")
    for problem in report.problems:
        click.echo(f"warning: {problem}", err=True)
    if report.written:
        click.echo(f"Written to {report.written[0].path.parent}/:")
        for written in report.written:
            click.echo(f"  {written.path.name:<12} {written.size / 1024:7.1f} KB")
    timings = " · ".join(f"{stage} {seconds * 1000:.0f} ms" for stage, seconds in report.timings.items())
    click.echo(f"Time: {timings} · total {sum(report.timings.values()) * 1000:.0f} ms")
    if report.written:
        click.echo(f"Open {report.written[0].path} in a browser to preview it.")

