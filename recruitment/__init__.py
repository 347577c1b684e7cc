"""Recruitment before the test (issue 18): needs, formations, announcements,
registration with eligibility, verification, appeals, scheduling. Rules import
no web; the HTTP routes and pages live with the app (``exam_server``)."""
