"""Entry point: `streamlit run Home.py`. The frame: Home and the story of one network, the ten
study pages grouped, and the Explore pages."""

import streamlit as st

from lab.ui import classmode, home, nav

st.set_page_config(page_title="RNN Experiments Lab", page_icon="🔁", layout="wide")
classmode.sync()  # every page of a tab in class mode stays in it (a sidebar click drops the query)

st.navigation(nav.sidebar(home.render)).run()
