"""Sphinx configuration: a user guide in Markdown (MyST) and an API reference generated
from the numpydoc docstrings. The test suite builds it with warnings as errors."""

import ramultimodal

project = "ramultimodal"
author = "ramultimodal developers"
release = ramultimodal.__version__
version = release

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3

autosummary_generate = True
# The class template documents each class's own methods (not those inherited from
# scikit-learn, whose docstrings point at labels of scikit-learn's own docs).
templates_path = ["_templates"]
autodoc_typehints = "none"  # the numpydoc Parameters sections carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Intersphinx needs the network; the build must work offline, so links stay plain text.
intersphinx_mapping: dict = {}

html_theme = "alabaster"
html_title = f"ramultimodal {release}"
