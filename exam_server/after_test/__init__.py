"""After the test, the app's side (issue 20): the public pages (diagnostic
report, feedback box, dashboard, appeals), the staff API (moderation, appeal
decisions, training needs as a printable page and CSV) and the terminal's
survey endpoint. The rules live in :mod:`after_test`; the numerics in
:mod:`calibration.subscores`."""
