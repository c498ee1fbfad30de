"""Does a member site's article concern international action? A French and English scorer over its title and
summary, by stems (Snowball), so that « jumelées », « Sénégalais » or « twinning » count as their topic.

Two kinds of terms. A *topic* (« jumelage », « coopération décentralisée », a country of CUF's country groups) is
enough on its own. A *context* term (« partenariat », « délégation », « Europe ») counts only beside another: « une
délégation reçue à Dakar » is international action, « la délégation de service public de l'eau » is not. The
score is the sum of the distinct terms found (a topic 2, a context term 1, a topic in the title 1 more); an
article whose score reaches `min_score` is proposed, and `why` names the terms found, as the team reads them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

# The stock terms: the team's [member_sites] topics and context_topics replace them, more_topics adds to them.
TOPICS = (
    "coopération décentralisée", "action internationale", "action extérieure", "relations internationales",
    "coopération internationale", "solidarité internationale", "aide humanitaire", "urgence humanitaire",
    "aide au développement", "jumelage", "jumelé", "ville jumelle", "comité de jumelage",
    "objectifs de développement durable", "ODD", "Agenda 2030", "Cités Unies France", "CGLU",
    "volontariat international", "Erasmus", "francophonie", "diplomatie des territoires",
    "coopération transfrontalière",
    "decentralised cooperation", "decentralized cooperation", "twinning", "twin town", "sister city",
    "international solidarity", "humanitarian aid", "international cooperation", "sustainable development goals",
    "SDG",
    # The countries of CUF's country groups and geographic dynamics.
    "Afrique", "Algérie", "Arménie", "Bénin", "Brésil", "Burkina Faso", "Cambodge", "Cameroun", "Chine", "Colombie",
    "Côte d'Ivoire", "Haïti", "Israël", "Japon", "Laos", "Liban", "Madagascar", "Mali", "Maroc", "Mauritanie",
    "Mexique", "Niger", "Palestine", "Québec", "Sénégal", "Togo", "Tunisie", "Turquie", "Ukraine", "Vietnam",
    "Amérique latine", "Caraïbes", "Méditerranée", "Balkans",
)
CONTEXT_TOPICS = (
    "partenariat", "partenaire", "délégation", "Europe", "européen", "coopération", "international", "solidarité",
    "humanitaire", "ambassade", "ambassadeur", "consul", "étranger", "réfugiés", "échange", "Allemagne", "Italie",
    "Espagne", "Royaume-Uni", "Pologne", "Portugal", "Belgique", "Roumanie", "Grèce",
    "partnership", "delegation", "embassy", "exchange", "abroad",
)
TOPIC_WEIGHT, CONTEXT_WEIGHT, TITLE_BONUS = 2, 1, 1
# Words that join a term's words and are not matched (« comité de jumelage » is « comité jumelage » to the scorer).
STOP = frozenset(("a", "au", "aux", "avec", "d", "de", "des", "du", "en", "et", "l", "la", "le", "les", "of", "the",
                  "and", "for", "in", "à", "un", "une"))
WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Term:
    """One term as the team wrote it, its words' stems, and whether it is enough on its own."""

    text: str
    stems: tuple[frozenset[str], ...]  # per word: its French and English stems
    topic: bool


@dataclass(frozen=True)
class Score:
    """How much an article concerns international action, and the terms that say so."""

    value: int
    why: tuple[str, ...]


def _fold(word: str) -> str:
    """The word without its accents: « Senegal » and « Sénégal » are one."""
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))


@cache
def _stems(word: str) -> frozenset[str]:
    """A word's French and English Snowball stems, accents folded."""
    import snowballstemmer  # loaded when a member site is read

    lowered = word.lower()
    return frozenset(_fold(s) for s in (snowballstemmer.stemmer("french").stemWord(lowered),
                                        snowballstemmer.stemmer("english").stemWord(lowered)))


def _words(text: str) -> list[str]:
    """The words of a text that carry meaning (apostrophes split: « l'Europe » is « Europe »)."""
    return [w for w in WORD.findall(text) if w.lower() not in STOP]


def terms(topics: Iterable[str], context: Iterable[str]) -> tuple[Term, ...]:
    """The scorer's terms: the topics, then the context terms, each with its stems."""
    made: list[Term] = []
    for texts, topic in ((topics, True), (context, False)):
        for text in texts:
            words = _words(text)
            if words:
                made.append(Term(text, tuple(_stems(w) for w in words), topic))
    return tuple(made)


def _found(term: Term, stems: list[frozenset[str]]) -> set[int]:
    """The positions of the text's words where the term's words follow each other (a stem in common, word by
    word); empty when it is not there."""
    size = len(term.stems)
    return {start + k for start in range(len(stems) - size + 1)
            if all(term.stems[k] & stems[start + k] for k in range(size)) for k in range(size)}


def score(title: str, summary: str, terms_: tuple[Term, ...]) -> Score:
    """The article's score and the terms found, topics first, in the order the team listed them. Words already
    counted for a term count for no other (« délégation » is not also « delegation »)."""
    fields = [[_stems(w) for w in _words(title)], [_stems(w) for w in _words(summary)]]
    present = frozenset().union(*fields[0], *fields[1])  # every stem of the article: most terms stop here
    claimed: list[set[int]] = [set(), set()]
    value, why = 0, []
    for term in terms_:
        if not all(stems & present for stems in term.stems):
            continue
        hits = [_found(term, stems) - taken for stems, taken in zip(fields, claimed, strict=True)]
        if not any(hits):
            continue
        for taken, hit in zip(claimed, hits, strict=True):
            taken |= hit
        value += (TOPIC_WEIGHT + (TITLE_BONUS if hits[0] else 0)) if term.topic else CONTEXT_WEIGHT
        why.append(term.text)
    return Score(value, tuple(why))
