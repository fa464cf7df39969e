"""Study page: reservoir (the shared template)."""

from lab.ui.template import render_study

render_study("reservoir")
