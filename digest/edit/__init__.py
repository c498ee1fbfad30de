"""The editors' side of a letter: the issue file, the editorial, the draft."""
