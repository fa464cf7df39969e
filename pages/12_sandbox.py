"""Explore page: train any configuration beside the baseline (lab.ui.sandbox)."""

from lab.ui import nav, sandbox

nav.ensure_frame()
sandbox.render()
