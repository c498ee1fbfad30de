"""The wheel's build beyond pyproject.toml: every package under digest/ found (none listed by hand), the stock
templates mapped in as digest.templates, and the interface's catalogues (.po) compiled to .mo in the package."""

from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py


class BuildWithCatalogues(build_py):
    """build_py, then each digest/locale/<lang>/LC_MESSAGES/digest.po compiled beside the package's modules."""

    def run(self) -> None:
        super().run()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in sorted(Path("digest/locale").glob("*/LC_MESSAGES/digest.po")):
            target = Path(self.build_lib) / po.with_suffix(".mo")
            target.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as handle:
                catalog = read_po(handle)
            with target.open("wb") as handle:
                write_mo(handle, catalog, use_fuzzy=False)


setup(packages=[*find_namespace_packages(include=["digest", "digest.*"], exclude=["*.__pycache__"]), "digest.templates"],
      package_dir={"digest.templates": "templates"},
      cmdclass={"build_py": BuildWithCatalogues})
