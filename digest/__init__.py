"""digest: turns what an organisation publishes into the e-mail its subscribers read."""

from __future__ import annotations

__version__ = "0.2.0"  # the one place: pyproject.toml reads it; CHANGELOG.md says what each changed
