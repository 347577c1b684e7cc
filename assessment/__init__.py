"""The SKB with several assessors (issue 19): components, rubrics, scheduling of
interviews, agreement and the many-facet Rasch model. Rules import no web; the
HTTP routes and pages live with the app (``exam_server``)."""
