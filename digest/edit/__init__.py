"""The editors' side of a letter: `digest draft` and the desk's edits of the issue file (tomlkit)."""
