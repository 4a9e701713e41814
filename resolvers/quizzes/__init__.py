"""Quizzes: authoring, grading, answers, sessions and spaced repetition.

- `grading`: the pure rules, from a key and an answer to a score (no I/O);
- `authoring`: `createQuiz`, `updateQuiz`, `archiveQuiz`, each type's shape checked;
- `catalogue`: what a student sees of a quiz (`QuizView`, never the key), the list, serving;
- `attempts`: `submitAnswer`, `gradeAttempt`, `attempt`, with server-measured time;
- `sessions`: PRACTICE, ADAPTIVE and REVIEW sessions and what each serves next;
- `review`: the FSRS card per user and quiz that every graded attempt reviews.
"""
