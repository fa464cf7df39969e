"""Study page: hidden size (the shared template)."""

from lab.ui.template import render_study

render_study("hidden_size")
