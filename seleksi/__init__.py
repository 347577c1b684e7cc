"""Seleksi: a computer-based and adaptive selection test engine.

The distribution holds the packages ``cat_engine``, ``calibration``,
``item_bank``, ``exam_server`` and ``proctor_ui``; this package holds only the
``seleksi`` command line.
"""

__version__ = "0.1.0"
