"""Hardening, class 2: per-recipient and per-service replacements touch only what the template wrote."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from digest import letterfolder, renderer
from digest.audience.recipients import Recipient
from digest.delivery import export, personalize
from digest.mail import signing
from digest.model import Letter, Section

from .conftest import make_item
from .test_renderer import TEMPLATES, letter_of

SECRET = b"0123456789abcdef0123456789abcdef"


def hostile_letter() -> Letter:
    plain = letter_of()
    evil = f"https://evil.example/r?u={plain.unsubscribe_url}"
    items = (
        make_item("Relais", url=evil, summary=f"Voir {evil} et {plain.web_url} aussi"),
        make_item("Fusion *|EMAIL|* et {{ contact.EMAIL }}", summary="{% if contact %}x{% endif %} *|UNSUB|*"),
    )
    return letter_of(Section("cuf", "Actualités CUF", "news", items))


def built(letter: Letter, tmp_path: Path) -> letterfolder.BuiltLetter:
    rendered = renderer.render(letter, TEMPLATES)
    return letterfolder.BuiltLetter(tmp_path, letter.date, letter.title, rendered.subject, letter.sender,
                                    letter.web_url, letter.unsubscribe_url, rendered.html, rendered.text)


def test_replacements_a_subscribers_token_goes_only_where_the_template_put_the_link(tmp_path: Path) -> None:
    letter = hostile_letter()
    personalizer = personalize.Personalizer(built(letter, tmp_path), SECRET, "lettre.example.org")
    raw = personalizer.copy(Recipient("lea@example.org"), datetime(2025, 11, 20, tzinfo=UTC)).raw
    token = signing.unsubscribe_token(SECRET, "lea@example.org", "lettre.example.org")
    body = raw.replace(b"=\r\n", b"").decode("ascii")
    # One link in the text, one in the HTML, one in the List-Unsubscribe header: none in the source's link.
    assert body.count(token) == 3
    assert "evil.example/r?u=https%3A//" in body.replace("=3D", "=")


def test_replacements_an_export_turns_only_the_templates_links_into_merge_tags(tmp_path: Path) -> None:
    letter = hostile_letter()
    for service in export.SERVICES.values():
        page, text = export.for_service(built(letter, tmp_path), service)
        for part in (page, text):
            assert part.count(service.unsubscribe) == 1 and part.count(service.view_online) == 1
            # A source's merge tags reach the service broken by a zero-width space: it expands none of them.
            for tag in ("*|EMAIL|*", "{{ contact.EMAIL }}", "{% if"):
                assert tag not in part
            assert part.count("*|UNSUB|*") == (service.unsubscribe == "*|UNSUB|*")
        assert "Fusion *\u200b|EMAIL|* et {\u200b{ contact.EMAIL }}" in text


def test_replacements_the_letter_links_the_real_pages(tmp_path: Path) -> None:
    letter = hostile_letter()
    rendered = renderer.render(letter, TEMPLATES)
    assert f"Se désinscrire : {letter.unsubscribe_url}\n" in rendered.text
    assert f'href="{letter.web_url}"' in rendered.html and "digest.invalid" not in rendered.html + rendered.mjml
