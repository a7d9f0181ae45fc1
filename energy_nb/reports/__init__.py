"""Scheduled reports: parameters, the report sections, running the notebook, the scheduler.

Usage::

    from energy_nb.reports.run import run_report
    result = run_report({"commodities": ["WTI"], "horizon": 5}, out_dir="reports")
    result.files["html"]
"""
