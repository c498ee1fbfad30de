"""Reviewing a letter before it goes out: the pre-send check, link check, CSS support data, the preview."""
