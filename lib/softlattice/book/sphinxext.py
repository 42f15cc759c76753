"""Sphinx extension for the book: drop duplicated script tags.

Jupyter Book 1.0.4 with sphinx-thebe 0.3 and Sphinx 7.4 emits the inline thebe configuration
script twice on every page, so the browser raises "Identifier 'THEBE_JS_URL' has already been
declared". Removing exact duplicates of a script tag (same source, same inline body) is harmless
for every other script and removes that error.
"""

from __future__ import annotations

from typing import Any


def _drop_duplicate_scripts(app, pagename: str, templatename: str, context: dict[str, Any],
                            doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen = set()
    unique = []
    for script in scripts:
        # the same inline script arrives once with filename None and once with ''
        key = (str(getattr(script, "filename", script) or ""),
               repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app) -> dict[str, Any]:
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
