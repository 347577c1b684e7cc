"""Exam sites and the centre (issue 22): signed packages, key release, offline
operation and sync."""
