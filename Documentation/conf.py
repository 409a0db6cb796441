# SPDX-License-Identifier: GPL-2.0
# Sphinx configuration for rust-iommufd's documentation. Built by
# `make htmldocs` (tools/testenv/htmldocs.sh) with warnings as errors.

project = "rust-iommufd"
copyright = "The rust-iommufd authors"

# The pages are plain reStructuredText, kernel style: no extensions.
extensions = []
root_doc = "index"
exclude_patterns = ["output"]
# Literal blocks are C, shell or diagrams; "::" must not guess Python.
highlight_language = "none"

html_theme = "alabaster"
html_title = "rust-iommufd"
html_show_sourcelink = False
