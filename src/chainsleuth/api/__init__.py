"""HTTP routers (FastAPI) over each capability's Python API."""
