"""Data forensics numerics (issue 21): person fit, the response-time model,
answer similarity, answer changes, preknowledge, drift. Imports neither the web
nor the database (numpy, scipy, ``cat_engine``)."""
