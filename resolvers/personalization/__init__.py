"""Personalization (SPEC.md, "Personalization"), derived from the student's own recorded activity only.

- `model`: the learner model as pure functions: ability beliefs, level, mastery, learning style;
- `calibration`: the model measured on simulated students of known ability (the test and the bench);
- `abilities`: beliefs updated by every graded answer, and the `personalization` profile;
- `recommendations`: what to do next, in a fixed number of statements.
"""
