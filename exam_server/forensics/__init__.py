"""The app side of session forensics and the item watch (issue 21): reading a
session from the database, the report, the review workflow's tables and routes."""
