"""Study page: the design grid, with its selectors and the predict-first exercise."""

from lab.ui.grid import focus, grid_view, predict_first
from lab.ui.template import render_study

render_study("grid", views={"grid": grid_view}, focus=focus, highlight=False,
             gate=predict_first)
