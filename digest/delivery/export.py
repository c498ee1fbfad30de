"""The built letter for an e-mail service (Brevo, Mailchimp): its own merge tags in place of our links."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from digest.delivery.personalize import NAME_MARK, greeting_of
from digest.files import Written, write_atomic
from digest.letterfolder import EXPORT, BuiltLetter


@dataclass(frozen=True)
class Service:
    """An e-mail service's merge tags: the recipient's unsubscribe link, the web version, the first name."""

    name: str
    unsubscribe: str
    view_online: str
    first_name: str


SERVICES = {
    # Brevo's template language: https://help.brevo.com ("unsubscribe" and "mirror" are its own links).
    "brevo": Service("Brevo", "{{ unsubscribe }}", "{{ mirror }}", "{{ contact.FIRSTNAME }}"),
    # Mailchimp's merge tags: *|UNSUB|* (unsubscribe page), *|ARCHIVE|* (the campaign's web page).
    "mailchimp": Service("Mailchimp", "*|UNSUB|*", "*|ARCHIVE|*", "*|FNAME|*"),
}


def for_service(letter: BuiltLetter, service: Service) -> tuple[str, str]:
    """The letter's HTML and text with the service's merge tags for unsubscribe, web version and name."""
    page = letter.html
    for ours, theirs in ((letter.unsubscribe_url, service.unsubscribe), (letter.web_url, service.view_online)):
        page = page.replace(f'href="{html.escape(ours)}"', f'href="{theirs}"')
    page = page.replace(NAME_MARK, f'<span class="digest-name"> {service.first_name}</span>')
    text = letter.text
    for ours, theirs in ((letter.unsubscribe_url, service.unsubscribe), (letter.web_url, service.view_online)):
        text = re.sub(re.escape(ours) + r"(?![\w/?#&=%.~+-])", theirs.replace("\\", "\\\\"), text)
    greeting = greeting_of(letter.html)
    if greeting:
        line = re.compile(rf"(?m)^({re.escape(greeting[0])})({re.escape(greeting[1])})$")
        text = line.sub(lambda m: f"{m.group(1)} {service.first_name}{m.group(2)}", text, count=1)
    return page, text


def export(letter: BuiltLetter, service_id: str) -> list[Written]:
    """Write outbox/<date>/export/<service>.html and .txt, ready to paste into the service's code editor; with a
    members' edition, its own pair in outbox/<date>/adherents/export/ (for a campaign to the members' segment)."""
    service = SERVICES[service_id]
    written = []
    for edition in (letter, *([letter.members] if letter.members else [])):
        page, text = for_service(edition, service)
        folder = edition.folder / EXPORT
        written += [write_atomic(folder / f"{service_id}.html", page.encode("utf-8")),
                    write_atomic(folder / f"{service_id}.txt", text.encode("utf-8"))]
    return written
