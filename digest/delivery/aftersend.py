"""What follows a list send: the letter noted as sent (the feed dates each letter by its send), the contacts of
the contributions it carried told (their mails wait in the store for `digest serve`'s courier), and how many
are still to send."""

from __future__ import annotations

import re

from digest import letterfolder
from digest.delivery import journal, smtp

CONTRIBUTION = re.compile(r"contribution-(\d+)")  # the uid an accepted contribution's item carries


def record(job: smtp.Job) -> int:
    """A list send delivered copies: note it, and queue the contributors' mails; how many were queued."""
    letterfolder.note(job.cfg, job.letter.date, "sent", first=True)
    numbers = [int(m.group(1)) for uid in letterfolder.carried(job.folder) if (m := CONTRIBUTION.fullmatch(uid))]
    if not numbers or not job.cfg.subscribers_path.is_file():
        return 0
    from digest.contribute.store import Contributions

    with Contributions(job.cfg.subscribers_path) as store:
        return store.sent_in(numbers, job.letter.web_url)


def still_to_send(job: smtp.Job) -> int:
    """How many of the journal are still pending, sending, deferred or unknown (0 before any list send)."""
    found = journal.status(job.private)
    return sum(found[0][s] for s in letterfolder.STILL_TO_SEND) if found else 0
