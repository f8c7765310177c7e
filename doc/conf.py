"""Sphinx configuration of the skdfl documentation.

Build with ``python -m sphinx -W -b html doc doc/_build/html`` from the
repository root (``-W``: warnings are errors; add ``-D plot_gallery=0`` to
skip running the examples for a quick look).
"""

import os
import sys

# Document the checkout itself, installed or not.
sys.path.insert(0, os.path.abspath(".."))

import skdfl  # noqa: E402

# -- Project -----------------------------------------------------------------

project = "skdfl"
author = "the skdfl developers"
copyright = "the skdfl developers"
release = skdfl.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------

# sphinx.ext.intersphinx is left out on purpose: the build needs no network.
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "_method_table.rst"]
root_doc = "index"
default_role = "literal"

# -- autodoc / autosummary / numpydoc ------------------------------------------

autosummary_generate = True
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# -- sphinx-gallery ------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
}

# -- HTML --------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skdfl {release}"
html_static_path = ["_static"]
html_css_files = ["skdfl.css"]
# Every page's left sidebar lists the whole site (the theme's default lists only
# the sub-pages of the current top-level page: nothing on most of ours).
html_sidebars = {"**": ["sidebar-site-nav.html"]}


# -- Hooks -------------------------------------------------------------------


def _skip_metadata_routing(app, what, name, obj, skip, options):
    """Skip scikit-learn's metadata-routing methods.

    Their docstrings come from scikit-learn and point to its glossary and
    user guide, which this documentation does not have.
    """
    if name == "get_metadata_routing" or (name.startswith("set_")
                                          and name.endswith("_request")):
        return True
    return None


def _write_method_table(app):
    """The user guide's method table, from the registry (one row per method)."""
    from skdfl.methods._registry import method_table_rst

    path = os.path.join(app.srcdir, "_method_table.rst")
    text = method_table_rst()
    if not os.path.exists(path) or open(path).read() != text:
        with open(path, "w") as out:
            out.write(text)


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_routing)
    app.connect("builder-inited", _write_method_table)
