"""Study page: a novel word ("zog"), with its word picker."""

from lab.ui.novel import novel_word
from lab.ui.template import render_study

render_study("novel_word", views={"novel_word": novel_word}, highlight=False)
