"""The stock templates' letter as a reader meets it without a browser: the plain-text part (a letter in its
own right), the greeting in each subscriber's copy, and the HTML's outline for assistive technology."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import re
from datetime import UTC, datetime
from pathlib import Path

import lxml.html
import pytest

from digest import config, letterfolder, pipeline, renderer
from digest.audience.recipients import Recipient
from digest.delivery import personalize
from tests.conftest import LETTER_DATE, ROOT, make_item
from tests.send_support import DAY, SECRET, build_letter
from tests.test_renderer import PARIS, TEMPLATES, letter_of, news_section

LINE = 78
URL_ALONE = re.compile(r"^<?https?://\S+$")  # a URL on its own line (editorial links: '<url>.')


def long_lines(text: str) -> list[str]:
    """Lines over 78 characters that are not a URL standing alone."""
    return [line for line in text.splitlines() if len(line) > LINE and not URL_ALONE.match(line)]


@pytest.fixture(scope="module")
def default_built() -> pipeline.Built:
    return pipeline.build(config.load(ROOT / "sources.toml"), LETTER_DATE, out=None)


@pytest.fixture(scope="module")
def outbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A letter built with a long unsubscribe URL and an accented title (tests/send_support.py)."""
    return build_letter(tmp_path_factory.mktemp("built"))


def copy_for(outbox: Path, recipient: Recipient) -> email.message.EmailMessage:
    letter = letterfolder.read_built(outbox, datetime.fromisoformat(DAY).date())
    maker = personalize.Personalizer(letter, SECRET.encode(), "lettre.example.org")
    raw = maker.copy(recipient, datetime(2025, 11, 20, 9, 30, tzinfo=UTC)).raw
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def part(message: email.message.EmailMessage, kind: str) -> str:
    body = message.get_body((kind,))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


# --- the plain-text part -----------------------------------------------------------------------------------

def test_the_text_part_keeps_to_78_columns_but_for_a_long_url_alone(default_built: pipeline.Built) -> None:
    text = default_built.rendered.text
    assert long_lines(text) == []
    text = text.replace("\u00a0", " ").replace("\u202f", " ")  # French no-break spaces, for the comparisons
    # The lines that ran long before: an event's "date · place", the footer's resource links, labelled URLs.
    assert "lundi 30 mars 2026, 14 h 00 – 16 h 30\nCités Unies France, 9 rue Christiani, 75018 Paris\n" in text
    assert "- Texte : https://cites-unies-france.org/-Centre-de-ressources-textes-\n" in text
    assert "En savoir plus :\nhttps://cites-unies-france.org/reunion-du-groupe-pays-maroc-le-30-mars-2026\n" in text
    assert "Se désinscrire : https://cites-unies-france.org/lettre/desinscription\n" in text  # short: one line


def test_more_comes_before_the_calendar_in_every_item_featured_or_not() -> None:
    event = make_item("Assemblée générale", url="https://cites-unies-france.org/ag",
                      start=datetime(2025, 12, 4, 10, tzinfo=PARIS), place="Paris")
    news = make_item("Une actualité", url="https://cites-unies-france.org/a", summary="Un résumé.",
                     date=datetime(2025, 11, 18, tzinfo=PARIS))
    agenda = dataclasses.replace(news_section(news), id="agenda", title="Agenda", kind="agenda", items=(event,))
    letter = dataclasses.replace(letter_of(news_section(news), agenda), featured=(event,))
    text = renderer.render(letter, TEMPLATES).text
    blocks = [block for block in text.split("\n\n") if "Ajouter à mon agenda" in block]
    assert len(blocks) == 2  # the featured block and the agenda section
    for block in blocks:
        assert block.index("En savoir plus") < block.index("Ajouter à mon agenda"), block
    assert long_lines(text) == []


def test_the_text_part_greets_and_a_subscribers_copy_greets_by_name(default_built: pipeline.Built,
                                                                    outbox: Path) -> None:
    assert "\n\nBonjour,\n\n" in default_built.rendered.text
    named = copy_for(outbox, Recipient("anne@example.org", "Anne"))
    text = part(named, "plain")
    assert "\n\nBonjour Anne,\n\n" in text
    assert long_lines(text) == []  # the signed unsubscribe link, longer, stands on its own line
    assert re.search(r"\nSe désinscrire :\nhttps://\S+\?\S*t=\S+\n", text)
    assert '>Bonjour<span class="digest-name"> Anne</span>,<' in part(named, "html")
    anonymous = copy_for(outbox, Recipient("sans-nom@example.org"))
    assert "\n\nBonjour,\n\n" in part(anonymous, "plain")
    assert '>Bonjour<span class="digest-name"></span>,<' in part(anonymous, "html")


# --- the HTML for assistive technology ---------------------------------------------------------------------

def test_headings_outline_the_letter_and_layout_tables_are_presentation(default_built: pipeline.Built) -> None:
    document = lxml.html.document_fromstring(default_built.rendered.html)
    assert document.get("lang") == "fr"
    headings = [(h.tag, " ".join(h.text_content().split())) for h in document.iter("h1", "h2", "h3", "h4")]
    assert headings[0] == ("h1", "La Lettre de CUF")
    assert [tag for tag, _ in headings].count("h1") == 1
    sections = [title for tag, title in headings if tag == "h2"]
    assert sections == ["Édito", "Actualités CUF", "Agenda", "Actualités des collectivités", "En bref"]
    assert [tag for tag, _ in headings].count("h3") == len(default_built.letter.items)
    assert headings[1][0] == "h2"  # no item before the first section: each level under the one above
    assert "h4" not in {tag for tag, _ in headings}
    assert all(table.get("role") == "presentation" for table in document.iter("table"))
