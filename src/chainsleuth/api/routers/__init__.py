"""One router per capability; each is a thin HTTP layer over that capability's Python API."""
