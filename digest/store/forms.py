"""What a public form's part of the store stands on: the one mail queue, the pending confirmations and the caps."""

from __future__ import annotations

from pathlib import Path

from digest.store import Part, Store
from digest.store.caps import Caps
from digest.store.pendings import Pendings
from digest.store.queue import MailQueue


class FormPart(Part):
    """A part fed by a public form: its mails go on the one queue, its links are pending tokens, its posts are
    counted against the caps, all in the same store."""

    def __init__(self, store: Store | Path) -> None:
        super().__init__(store)
        self.queue = MailQueue(self.store)
        self.pendings = Pendings(self.store)
        self.caps = Caps(self.store)
