"""RNN Experiments Lab: the library (corpus, model, engine, studies, store); no streamlit here."""
