"""Study page: clipping (the shared template)."""

from lab.ui.template import render_study

render_study("clipping")
