"""Study page: a novel word ("zog"), with its word picker (the shared template)."""

from lab.ui.template import render_study

render_study("novel_word")
