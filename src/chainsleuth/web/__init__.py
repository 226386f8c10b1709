"""Server-rendered pages (Jinja2 + htmx) over the HTTP API."""
