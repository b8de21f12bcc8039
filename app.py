"""PITCH Explorer: ``streamlit run app.py``.

The server's entry point, an ASGI app (``st.App``) that Streamlit finds here
and serves with uvicorn on its usual address and port:

- the pages: explorer/router.py (the sidebar and ``st.navigation``) and the
  scripts in pages/;
- the REST API under /api/v1 on the same port (:mod:`pitch.api`; docs at
  /api/v1/docs), on the app's one database connection;
- at start-up the database is opened and the app's address recorded beside it
  (``<database>.app.json``) so that ``python -m pitch`` goes through the API
  while the app holds the file; the record goes at exit.
"""

import streamlit as st
from starlette.routing import Mount

from pitch import api

app = st.App("explorer/router.py", routes=[Mount(api.PREFIX, app=api.create_app())],
             lifespan=api.lifespan)
