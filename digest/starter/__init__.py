"""`digest init`: a new letter's folder, ready for a first offline build, and the stock templates to edit."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from importlib.resources import files
from pathlib import Path

from digest.config import TEMPLATE_NAMES, package_templates
from digest.files import Written, write_atomic

# A starter's sample items: (days before the letter's date, title, url, teaser); facts from the CUF home page.
NEWS = (
    (2, "Intempéries dans le centre du Vietnam : ouverture d'un fonds de solidarité des collectivités",
     "https://cites-unies-france.org/intemperies-dans-le-centre-du-vietnam",
     "Cités Unies France ouvre un fonds de solidarité pour aider les provinces sinistrées à reconstruire."),
    (5, "1ères Assises nationales de la coopération frontalière",
     "https://cites-unies-france.org/1eres-assises-nationales-de-la-cooperation-frontaliere",
     "Les collectivités frontalières se retrouvent pour partager leurs pratiques de coopération."),
    (9, "Fonds Jeunesse et action pour le climat : lancement de la deuxième phase",
     "https://cites-unies-france.org/fonds-jeunesse-et-action-pour-le-climat",
     "Un appel à projets pour les jeunes engagés dans l'action climatique avec leurs collectivités."),
)
# (days after the letter's date, title, url, place)
EVENTS = (
    (14, "Webinaire : la coopération décentralisée et les ODD", "https://cites-unies-france.org/webinaire-odd",
     "en visioconférence"),
    (30, "Réunion du groupe-pays Sénégal", "https://cites-unies-france.org/groupe-pays-senegal", "à Paris"),
)


@dataclass(frozen=True)
class Created:
    """What `init` did: the files written, and those already there (never overwritten)."""

    written: tuple[Written, ...]
    kept: tuple[Path, ...]


def create(folder: Path, today: date, templates: bool = False) -> Created:
    """Write a commented sources.toml, issues/exemple.toml and sample data dated around `today` into `folder`.

    With `templates`, copy the stock templates into folder/templates/ for editing. No file is overwritten.
    """
    wanted = starter_files(today)
    if templates:
        stock = package_templates()
        wanted.update({f"templates/{name}": (stock / name).read_bytes()
                       for name in sorted(p.name for p in stock.iterdir()) if _is_template(name)})
    written, kept = [], []
    for name, data in wanted.items():
        try:
            written.append(write_atomic(folder / name, data, overwrite=False))
        except FileExistsError:
            kept.append(folder / name)
    return Created(tuple(written), tuple(kept))


def starter_files(today: date) -> dict[str, bytes]:
    """The starter's files by relative path: the configuration, the example issue file, the sample data."""
    starter = files(__name__)
    return {
        "sources.toml": starter.joinpath("sources.toml").read_bytes(),
        "issues/exemple.toml": starter.joinpath("issue-exemple.toml").read_bytes(),
        "donnees/actualites.csv": _csv(["title", "url", "date", "summary"],
                                       [[t, u, (today - timedelta(days=d)).isoformat(), s] for d, t, u, s in NEWS]),
        "donnees/agenda.csv": _csv(["title", "url", "start", "place"],
                                   [[t, u, f"{(today + timedelta(days=d)).isoformat()}T10:00", p]
                                    for d, t, u, p in EVENTS]),
    }


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _is_template(name: str) -> bool:
    """The stock templates and the files that go with them, not the package's own Python."""
    return name in TEMPLATE_NAMES or (not name.endswith((".py", ".pyc")) and not name.startswith(("_", ".")))
