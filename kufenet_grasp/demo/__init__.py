"""The simulated pick-and-place demo (``kufenet demo`` / ``make demo``) and its report."""
