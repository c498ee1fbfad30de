"""Text repair on the way in: mojibake undone, controls removed, entities decoded once, typography kept."""

from __future__ import annotations

import pytest

from digest.repair import repair
from digest.text import fold, html_to_text


@pytest.mark.parametrize(("damaged", "repaired"), [
    ("CoopÃ©ration dÃ©centralisÃ©e", "Coopération décentralisée"),  # UTF-8 read as Latin-1
    ("lâ€™Ã©tÃ© â€“ 5 â‚¬", "l’été – 5 €"),  # UTF-8 read as windows-1252
    ("l\u00e2\u0080\u0099\u00e9t\u00e9", "l’été"),  # the same, with C1 controls left by a Latin-1 decoder
    ("Cafe\u0301", "Café"),  # decomposed accent, composed (NFC)
])
def test_mojibake_is_repaired(damaged: str, repaired: str) -> None:
    assert fold(damaged) == repaired


@pytest.mark.parametrize("sound", [
    "Coopération décentralisée : « l’été » à Lyon – 5 €",
    "plain ASCII text",
    "Zürich, Kraków, São Paulo, Ελλάδα, 日本",
])
def test_sound_text_is_left_alone(sound: str) -> None:
    assert repair(sound) == sound


def test_control_characters_go_and_entities_are_decoded_once() -> None:
    assert fold("Ti\x00tre\x07 du\x0b jour") == "Titre du jour"
    assert html_to_text("Tom &amp;amp; Jerry") == "Tom &amp; Jerry"  # the text was "&amp;": never decoded twice
    assert html_to_text("<p>a &lt; b &amp; c</p>") == "a < b & c"
    assert repair("a &amp; b") == "a &amp; b"  # repair itself never touches entities
