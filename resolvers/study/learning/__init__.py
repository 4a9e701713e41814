"""Learning sessions and their live analysis (SPEC.md, "Study").

- `analysis`: the pure computation: state + event + time → state, state → LearningAnalysis;
- `store`: each session's analysis state in a Redis hash, updated atomically;
- `sessions`: start, track, end, and the timeout the worker runs;
- `live`: the `learningAnalytics` subscription's feed.
"""
