"""The study companion's operations.

- `subjects`: the catalogue, which ADMINs create and edit and everyone signed in searches;
- `settings`: each user's study settings per subject, or the defaults while none are saved;
- `loaders`: the batch reads behind the study DataLoaders (`averageRating`).
"""
