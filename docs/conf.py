"""Sphinx configuration of the statetrack documentation.

Build (from the repository root)::

    python -m sphinx -W -b html docs docs/_build/html

Generated at build time (ignored by git): ``docs/api/*.rst`` (the API pages, one autosummary
list per package built from its ``__all__``), ``docs/_generated/catalogue_table.rst`` (the
catalogue, from ``statetrack check --json``), ``docs/_generated/cli_reference.rst`` (every
subcommand's ``--help``), ``docs/auto_examples/`` (the gallery) and
``docs/api/generated/`` (autosummary's stub pages).

``STATETRACK_DOCS_QUICK=1`` builds a small subset (what ``tests/docs`` builds in CI): the
tutorial, one theorem page, the CLI page, a three-language catalogue and one gallery example,
without the API reference.
"""

from __future__ import annotations

import os
import pathlib
import re
import sys

DOCS = pathlib.Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))          # document this checkout, not an installed copy
sys.path.insert(0, str(DOCS))          # docs/_ext
os.environ.setdefault("MPLBACKEND", "Agg")

import statetrack  # noqa: E402
from _ext import catalogue, cli_help  # noqa: E402

QUICK = os.environ.get("STATETRACK_DOCS_QUICK", "") not in ("", "0")

# -- project -------------------------------------------------------------------------------
project = "statetrack"
author = "the statetrack authors"
copyright = "2026, the statetrack authors"
#: The version of pyproject.toml (read as text: tomllib is Python 3.11+).
release = version = re.search(r'(?m)^version = "([^"]+)"',
                              (ROOT / "pyproject.toml").read_text(encoding="utf-8")).group(1)

# -- extensions ----------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "sphinxcontrib.bibtex",
    "myst_parser",
    "sphinx-mathjax-offline",     # MathJax served from _static: the math renders offline
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "auto_examples/*.json",
                    "auto_examples/*.md5", "auto_examples/*.pickle"]

# -- API reference -------------------------------------------------------------------------
#: The packages of the API reference, in the order of the page.
API_PACKAGES = ("statetrack.automata", "statetrack.constructions", "statetrack.theory",
                "statetrack.kernels", "statetrack.cli")

autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"           # numpydoc sections carry the types
numpydoc_show_class_members = False  # the class template lists members itself
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- doctest -------------------------------------------------------------------------------
doctest_global_setup = """
import os
os.environ.setdefault("MPLBACKEND", "Agg")
"""

# -- gallery -------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "image_scrapers": ("_ext.scraper.figure_scraper",),
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "show_signature": False,
    "reset_modules": ("matplotlib",),
}
if QUICK:
    # one example executed; the others are listed without running them
    sphinx_gallery_conf["filename_pattern"] = r"/plot_1_spectra"

# -- bibliography --------------------------------------------------------------------------
bibtex_bibfiles = ["references.bib"]
bibtex_default_style = "plain"
bibtex_reference_style = "author_year"

# -- HTML ----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "statetrack"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_show_sourcelink = False

# -- the quick subset (tests/docs) ---------------------------------------------------------
QUICK_PAGES = ("index", "tutorial", "theory/index", "theory/thm1", "catalogue", "cli",
               "cite", "auto_examples/index", "auto_examples/plot_1_spectra")
if QUICK:
    exclude_patterns += ["api", "api/**", "initializers.rst",
                         "kernels.rst", "theory/prop1.rst", "theory/thm2.rst",
                         "theory/thm3.rst", "theory/thm4.rst", "theory/thm6.rst",
                         "benchmarks/**"]
    # links into the pages left out are expected to dangle in the subset
    suppress_warnings = ["toc.excluded", "ref.doc"]


def _write_api_pages() -> None:
    """``docs/api/<package>.rst``: one autosummary list per package, from its ``__all__``."""
    import importlib

    out = DOCS / "api"
    out.mkdir(exist_ok=True)
    seen: dict[int, str] = {}           # id of a class or function -> its first public path
    expected: set[str] = set()
    for name in API_PACKAGES:
        mod = importlib.import_module(name)
        public, again = [], []
        for p in getattr(mod, "__all__", ()):
            obj = getattr(mod, p)
            if isinstance(obj, type) or callable(obj):
                if id(obj) in seen:     # one object re-exported by two packages: one page
                    again.append((p, seen[id(obj)]))
                    continue
                seen[id(obj)] = f"{name}.{p}"
            public.append(p)
        title = f"``{name}``"
        lines = [title, "=" * len(title), "", f".. automodule:: {name}", "   :no-members:",
                 "   :no-index:", ""]
        classes = [p for p in public if isinstance(getattr(mod, p), type)]
        errors = [p for p in classes if issubclass(getattr(mod, p), BaseException)]
        groups = (
            ("Functions", [p for p in public if callable(getattr(mod, p))
                           and not isinstance(getattr(mod, p), type)]),
            ("Classes", [p for p in classes if p not in errors]),
            ("Exceptions", errors),
            ("Modules and data", [p for p in public if not callable(getattr(mod, p))]),
        )
        for head, members in groups:
            if not members:
                continue
            lines += [head, "-" * len(head), "", ".. autosummary::", "   :toctree: generated",
                      "   :nosignatures:", ""]
            lines += [f"   {p}" for p in members]
            lines.append("")
        for p in public:
            expected.add(f"{name}.{p}.rst")
        if again:
            head = "Also exported here"
            lines += [head, "-" * len(head), ""]
            lines += [f"* ``{p}``: the same object as :obj:`{first}`" for p, first in again]
            lines.append("")
        text = "\n".join(lines)
        path = out / f"{name.split('.')[-1]}.rst"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    # stub pages of names no longer public would be orphans (a warning): remove them
    for stub in (out / "generated").glob("*.rst"):
        if stub.name not in expected:
            stub.unlink()


if not QUICK:
    _write_api_pages()

catalogue_only = ("parity", "cyclic(3)", "flip_flop") if QUICK else None


def _generate(app) -> None:
    catalogue.write_table(DOCS / "_generated", only=catalogue_only)
    cli_help.write_help(DOCS / "_generated")


def _doctest_pages_only(app) -> None:
    """Under ``-b doctest``: the pages' examples only. The API pages' examples are the
    docstrings', which ``pytest --doctest-modules`` runs in their modules' namespaces; and the
    gallery runs only the example whose figure the index shows."""
    if app.builder.name != "doctest":
        return
    app.config.exclude_patterns = list(app.config.exclude_patterns) + ["api", "api/**"]
    app.config.suppress_warnings = list(app.config.suppress_warnings) + ["toc.excluded"]
    app.config.sphinx_gallery_conf["filename_pattern"] = r"/plot_1_spectra"


def setup(app):
    app.connect("builder-inited", _doctest_pages_only, priority=100)
    app.connect("builder-inited", _generate)
    return {"parallel_read_safe": True}
