"""Entry point: `streamlit run Home.py`. The frame: Home and the story of one network, the ten
study pages grouped, and the Explore pages."""

import streamlit as st

from lab.ui import classmode, home, nav

st.set_page_config(page_title="RNN Experiments Lab", page_icon="🔁", layout="wide")
classmode.sync()  # every page of a tab in class mode stays in it (a sidebar click drops the query)

# a Material icon ships with Streamlit's own font; an emoji needs one on the student's machine
pages = {nav.START_GROUP: [
    st.Page(home.render, title="Home", icon=":material/home:", default=True),
    st.Page(nav.STORY[1], title=nav.STORY[0], icon=":material/auto_stories:")]}
for group, items in nav.grouped_pages().items():
    pages[group] = [st.Page(p.path, title=f"{p.number}. {p.title}") for p in items]
pages[nav.EXPLORE_GROUP] = [st.Page(path, title=title) for title, path in nav.EXPLORE]
st.navigation(pages).run()
