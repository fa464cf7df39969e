"""Study page: the design grid, with its selectors and the predict-first exercise."""

from lab.ui.grid import focus, predict_first
from lab.ui.template import render_study

render_study("grid", focus=focus, gate=predict_first)
