"""Study page: learning rate (the shared template)."""

from lab.ui.template import render_study

render_study("learning_rate")
