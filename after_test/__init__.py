"""After the test (issue 20): diagnostic reports, training needs, feedback and
appeals of results. Rules import no web; the HTTP routes and pages live with the
app (``exam_server``)."""
