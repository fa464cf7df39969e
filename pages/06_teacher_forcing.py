"""Study page: teacher forcing (the shared template)."""

from lab.ui.template import render_study

render_study("teacher_forcing")
