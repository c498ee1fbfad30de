"""The clock of `digest serve`: every TICK seconds, in each server process, it says in the store that a server
runs (what `digest send --list --at` reads) and performs the scheduled sends that are due
(digest.delivery.runner), one process per send. The send runs in a thread: the pages keep answering."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

from digest.i18n import N_

LOG = logging.getLogger("digest.serve")
TICK = 10.0  # seconds between two looks at the schedule: a send starts within this of its time


class Clock:
    """Performs the due scheduled sends of the store, as long as the server process runs."""

    def __init__(self, config_path: Path, store: Path) -> None:
        self.config_path = config_path
        self.store = store

    def tick(self) -> int:
        """Say the server runs; perform what is due; how many sends were performed. Most ticks find nothing
        due: sources.toml is read only when something is."""
        from digest.delivery import runner, schedule
        from digest.store import Store

        moment = datetime.now(UTC)
        with Store(self.store) as store:
            schedule.seen(store)
            due = schedule.Schedules(store).anything_to_do(moment)
        return len(runner.run_due(self.config_path, moment, schedule.me())) if due else 0

    async def run(self) -> None:
        """Until cancelled: tick, then wait TICK seconds."""
        while True:
            try:
                await asyncio.to_thread(self.tick)
            except Exception as exc:  # a broken configuration or store: say it, keep serving the pages
                LOG.error(N_("scheduled sends: %s: %s"), type(exc).__name__, exc)
            await asyncio.sleep(TICK)
