"""Study page: activation (the shared template)."""

from lab.ui.template import render_study

render_study("activation")
