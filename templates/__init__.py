"""The stock templates, shipped inside the package as digest.templates (see pyproject.toml)."""
