"""Story page: the baseline's training from babble to agreement (lab.ui.story)."""

from lab.ui import nav, story

nav.ensure_frame()
story.render()
