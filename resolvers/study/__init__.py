"""The study companion's operations.

- `subjects`: the catalogue, which ADMINs create and edit and everyone signed in searches;
- `settings`: each user's study settings per subject, or the defaults while none are saved;
- `summaries`: AI summaries a user requests for a credit, then reads, rates and bookmarks;
- `summary_jobs`: the `study.summarize` job's steps (RUNNING, DONE with the summary, FAILED with a refund);
- `activity`: the activity log's one entry point (`record_activity`), for every feature that counts;
- `progress`: a user's progress and streaks in a subject, read from the log;
- `goals`: study goals; `goal_progress` computes their progress in SQL and closes them;
- `local_time`: local dates in the user's time zone;
- `loaders`: the batch reads behind the study DataLoaders (subjects, summaries, `averageRating`).
"""
