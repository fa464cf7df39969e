"""The app's Streamlit and Altair layer: shared connection, charts, URL state, page template.

The only package besides Home.py and pages/ that imports streamlit (lab/ never does).
"""
