"""`digest export --esp`: the built letter with Brevo's or Mailchimp's merge tags in place of our links."""

from __future__ import annotations

import html
from datetime import date
from pathlib import Path

import pytest

from digest import letterfolder
from digest.delivery import export, personalize
from tests.send_support import DAY, LONG_UNSUBSCRIBE, build_letter, digest, setup


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_letter(tmp_path_factory.mktemp("built"))


@pytest.mark.parametrize(("esp", "unsubscribe", "online"), [
    ("brevo", "{{ unsubscribe }}", "{{ mirror }}"),
    ("mailchimp", "*|UNSUB|*", "*|ARCHIVE|*"),
])
def test_export_puts_the_services_merge_tags_in_place_of_our_links(
        tmp_path: Path, built: Path, esp: str, unsubscribe: str, online: str) -> None:
    cfg = setup(tmp_path, built, 25)
    result = digest("export", "-c", str(cfg), "--esp", esp)
    assert result.exit_code == 0, result.output
    folder = tmp_path / "outbox" / DAY / "export"
    page = (folder / f"{esp}.html").read_text(encoding="utf-8")
    text = (folder / f"{esp}.txt").read_text(encoding="utf-8")
    letter = letterfolder.read_built(tmp_path / "outbox", date.fromisoformat(DAY))
    assert f'href="{unsubscribe}"' in page and f'href="{online}"' in page
    assert LONG_UNSUBSCRIBE.replace("&", "&amp;") not in page and letter.web_url not in page
    assert f"Se désinscrire :\n{unsubscribe}" in text and letter.web_url not in text  # a long URL: own line
    # Everything else is the letter as built.
    restored = page.replace(f'href="{unsubscribe}"', f'href="{LONG_UNSUBSCRIBE.replace("&", "&amp;")}"')
    name = html.escape(export.SERVICES[esp].first_name)  # the stock template greets: "Bonjour <first name>,"
    restored = restored.replace(f'<span class="digest-name"> {name}</span>', personalize.NAME_MARK)
    assert restored.replace(f'href="{online}"', f'href="{letter.web_url}"') == letter.html
    assert f"Wrote {folder / (esp + '.html')}" in result.output


def test_export_fills_the_greeting_with_the_services_first_name(tmp_path: Path, built: Path) -> None:
    letter = letterfolder.read_built(built, date.fromisoformat(DAY))
    marked = letterfolder.BuiltLetter(**{
        **letter.__dict__, "text": "Bonjour,\n" + letter.text,
        "html": letter.html.replace("</body>", '<p>Bonjour<span class="digest-name"></span>,</p></body>'),
    })
    page, text = export.for_service(marked, export.SERVICES["mailchimp"])
    assert '<p>Bonjour<span class="digest-name"> *|FNAME|*</span>,</p>' in page
    assert text.startswith("Bonjour *|FNAME|*,\n")


def test_export_of_a_letter_not_built_is_a_users_error(tmp_path: Path, built: Path) -> None:
    cfg = setup(tmp_path, built, 25)
    result = digest("export", "-c", str(cfg), "--esp", "brevo", "--date", "2026-01-15")
    assert result.exit_code == 2 and "has not been built" in result.output
    unknown = digest("export", "-c", str(cfg), "--esp", "sendgrid")
    assert unknown.exit_code == 2 and "'sendgrid' is not one of 'brevo', 'mailchimp'" in unknown.output
