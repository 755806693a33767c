"""Serving the stored results: an in-memory snapshot, the HTTP API and the web page."""
