"""The quiz types, enums and inputs. A `Quiz` is built only from a `QuizView`, which holds no answer key."""

import uuid

import strawberry

import models.quizzes as rows
from core.db import read_session, rows_by_ids
from resolvers.quizzes import authoring, essays, sessions
from resolvers.quizzes.attempts import AttemptView
from resolvers.quizzes.catalogue import QuizView, view_of
from schema import fields
from schema.context import Info
from schema.ids import parse_id
from schema.study.subjects import Difficulty, Subject, load_subjects

QuizType = strawberry.enum(rows.QuizType, name="QuizType")
GradingStatus = strawberry.enum(rows.GradingStatus, name="GradingStatus")
QuizSessionKind = strawberry.enum(rows.QuizSessionKind, name="QuizSessionKind")
QuizSessionStatus = strawberry.enum(rows.QuizSessionStatus, name="QuizSessionStatus")


async def load_quizzes(quiz_ids: list[uuid.UUID]) -> list[QuizView | None]:
    """Batch function for `info.context.loader(load_quizzes)`, wherever another type points at a quiz."""
    async with read_session() as db:
        found = await rows_by_ids(db, rows.Quiz, quiz_ids)
    return [None if quiz is None else view_of(quiz) for quiz in found]


async def _subject(info: Info, subject_id: uuid.UUID) -> Subject:
    row = await info.context.loader(load_subjects).load(subject_id)
    # Quizzes and sessions are deleted with their subject (ON DELETE CASCADE), so it is there.
    assert row is not None
    return Subject.from_row(row)


@strawberry.type(description="Correctness is never exposed before answering.")
class QuizChoice:
    id: strawberry.ID
    text: str


@strawberry.type
class Quiz:
    id: strawberry.ID
    type: QuizType
    difficulty: Difficulty
    topic: str | None
    question: str
    choices: list[QuizChoice] | None = strawberry.field(description="MULTIPLE_CHOICE: the choices, in order.")
    blank_count: int | None = strawberry.field(description='FILL_BLANK: how many "___" the question has.')
    match_left: list[str] | None = strawberry.field(description="MATCHING: the items to match, in order.")
    match_right: list[str] | None = strawberry.field(
        description="MATCHING: what to match them with, shuffled (fixed per quiz)."
    )
    hints: list[str]
    points: int
    estimated_seconds: int
    archived: bool
    subject_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, view: QuizView) -> "Quiz":
        return cls(
            id=strawberry.ID(str(view.id)),
            type=view.type,
            difficulty=view.difficulty,
            topic=view.topic,
            question=view.question,
            choices=(
                None
                if view.choices is None
                else [QuizChoice(id=strawberry.ID(choice.id), text=choice.text) for choice in view.choices]
            ),
            blank_count=view.blank_count,
            match_left=view.match_left,
            match_right=view.match_right,
            hints=view.hints,
            points=view.points,
            estimated_seconds=view.estimated_seconds,
            archived=view.archived,
            subject_id=view.subject_id,
        )

    @strawberry.field
    async def subject(self, info: Info) -> Subject:
        return await _subject(info, self.subject_id)


@strawberry.type
class QuizSession:
    id: strawberry.ID
    kind: QuizSessionKind
    status: QuizSessionStatus
    current_difficulty: Difficulty
    answered: int
    correct: int
    target_questions: int
    subject_id: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, row: rows.QuizSession | essays.GradedSessionEvent) -> "QuizSession":
        # The stored row and the published snapshot carry the same fields.
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=row.kind,
            status=row.status,
            current_difficulty=row.current_difficulty,
            answered=row.answered,
            correct=row.correct,
            target_questions=row.target_questions,
            subject_id=row.subject_id,
        )

    @strawberry.field
    async def subject(self, info: Info) -> Subject:
        return await _subject(info, self.subject_id)

    @fields.field(
        "The quiz to answer next (its time starts now), or null once the session is completed or nothing is "
        "left to serve. Asking again before answering serves the same quiz."
    )
    async def next_quiz(self, info: Info) -> Quiz | None:
        async with read_session() as db:
            view = await sessions.next_quiz(db, info.context.actor, parse_id(self.id, "QuizSession"))
        return None if view is None else Quiz.of(view)


@strawberry.type
class AttemptResult:
    id: strawberry.ID = strawberry.field(description="The attempt's id, as `attemptId`.")
    attempt_id: strawberry.ID
    correct: bool | None = strawberry.field(description="score = 1; null until graded.")
    score: float = strawberry.field(description="0 to 1; 0 until graded.")
    points_earned: int = strawberry.field(description="round(points * score); 0 until graded.")
    explanation: str | None
    correct_answer: str | None = strawberry.field(description="The answer key in words; null for essays.")
    feedback: str | None
    grading_status: GradingStatus
    time_spent_seconds: int | None = strawberry.field(
        description="Measured by the server from when the quiz was served; null if it never was."
    )
    quiz_session: QuizSession | None = strawberry.field(
        description="The session the answer counted in, for the student who answered."
    )

    @classmethod
    def of(cls, view: AttemptView) -> "AttemptResult":
        attempt = view.attempt
        graded = attempt.grading_status is rows.GradingStatus.GRADED
        return cls(
            id=strawberry.ID(str(attempt.id)),
            attempt_id=strawberry.ID(str(attempt.id)),
            correct=(attempt.score == 1) if graded else None,
            score=attempt.score if graded and attempt.score is not None else 0.0,
            points_earned=attempt.points_earned if graded and attempt.points_earned is not None else 0,
            explanation=view.explanation,
            correct_answer=view.correct_answer,
            feedback=attempt.feedback,
            grading_status=attempt.grading_status,
            time_spent_seconds=attempt.time_spent_seconds,
            quiz_session=None if view.session is None else QuizSession.from_row(view.session),
        )

    @classmethod
    def of_event(cls, event: essays.AttemptGradedEvent) -> "AttemptResult":
        return cls(
            id=strawberry.ID(str(event.attempt_id)),
            attempt_id=strawberry.ID(str(event.attempt_id)),
            correct=event.score == 1,
            score=event.score,
            points_earned=event.points_earned,
            explanation=event.explanation,
            correct_answer=event.correct_answer,
            feedback=event.feedback,
            grading_status=event.grading_status,
            time_spent_seconds=event.time_spent_seconds,
            quiz_session=None if event.quiz_session is None else QuizSession.from_row(event.quiz_session),
        )


@strawberry.input
class QuizChoiceInput:
    text: str
    correct: bool


@strawberry.input
class MatchPairInput:
    left: str
    right: str

    def pair(self) -> rows.KeyPair:
        return rows.KeyPair(left=self.left, right=self.right)


@strawberry.input
class QuizInput:
    subject_id: strawberry.ID
    type: QuizType
    difficulty: Difficulty
    question: str
    topic: str | None = None
    choices: list[QuizChoiceInput] | None = strawberry.field(
        default=None, description="MULTIPLE_CHOICE: 2 to 8, at least one correct."
    )
    answer_boolean: bool | None = strawberry.field(default=None, description="TRUE_FALSE.")
    accepted_answers: list[str] | None = strawberry.field(default=None, description="SHORT_ANSWER: 1 to 20.")
    blank_answers: list[list[str]] | None = strawberry.field(
        default=None, description='FILL_BLANK: accepted answers for each "___" in order.'
    )
    pairs: list[MatchPairInput] | None = strawberry.field(default=None, description="MATCHING: 2 to 10.")
    rubric: str | None = strawberry.field(default=None, description="ESSAY.")
    explanation: str | None = None
    hints: list[str] | None = strawberry.field(default=None, description="At most 5.")
    points: int | None = strawberry.field(default=None, description="1 to 1000; 10 by default.")
    estimated_seconds: int | None = strawberry.field(default=None, description="By type unless given.")

    def draft(self) -> authoring.QuizDraft:
        return authoring.QuizDraft(
            subject_id=parse_id(self.subject_id, "Subject"),
            type=self.type,
            difficulty=self.difficulty,
            question=self.question,
            topic=self.topic,
            choices=(
                None
                if self.choices is None
                else [
                    authoring.ChoiceDraft(text=choice.text, correct=choice.correct) for choice in self.choices
                ]
            ),
            answer_boolean=self.answer_boolean,
            accepted_answers=self.accepted_answers,
            blank_answers=self.blank_answers,
            pairs=None if self.pairs is None else [pair.pair() for pair in self.pairs],
            rubric=self.rubric,
            explanation=self.explanation,
            hints=self.hints,
            points=self.points,
            estimated_seconds=self.estimated_seconds,
        )


@strawberry.input
class AnswerInput:
    choice_ids: list[strawberry.ID] | None = strawberry.field(default=None, description="MULTIPLE_CHOICE.")
    boolean: bool | None = strawberry.field(default=None, description="TRUE_FALSE.")
    text: str | None = strawberry.field(default=None, description="SHORT_ANSWER and ESSAY.")
    blanks: list[str] | None = strawberry.field(
        default=None, description="FILL_BLANK, one per blank in order."
    )
    pairs: list[MatchPairInput] | None = strawberry.field(default=None, description="MATCHING.")

    def answer(self) -> rows.Answer:
        return rows.Answer(
            choice_ids=None if self.choice_ids is None else [str(choice_id) for choice_id in self.choice_ids],
            boolean=self.boolean,
            text=self.text,
            blanks=self.blanks,
            pairs=None if self.pairs is None else [pair.pair() for pair in self.pairs],
        )
