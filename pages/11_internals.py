"""Explore page: one stored network reading one sentence (lab.ui.internals)."""

from lab.ui import internals, nav

nav.ensure_frame()
internals.render()
