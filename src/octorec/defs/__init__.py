"""Dagster definitions, one module per pipeline stage; `octorec.definitions` assembles them."""
