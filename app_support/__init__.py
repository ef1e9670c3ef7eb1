"""The Streamlit app's helpers: URL/session state, cached model calls, exports, and one module per view.

app.py stays thin (widgets -> these helpers -> st.* calls); figures come from `viz`.
"""
