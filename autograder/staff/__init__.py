"""The staff side: grade a whole class (``regrade``), merge CPU/GPU and sharded runs (``merge``), report on the
class (grades.csv, report.html), surface the course's honesty declarations, and rank similar submissions.

Nothing here runs on Gradescope except :mod:`autograder.staff.honesty` (stdlib only), which adds the staff-only
declarations entry to results.json there.
"""
