"""`python -m services.reporting`: the faust worker, its KPI tables and its web view (6107)."""

from services.reporting.app import run

run()
