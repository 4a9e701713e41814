"""Study progress per subject, and study goals."""

import uuid
from datetime import date

import strawberry
from strawberry.scalars import JSON

import models.study as rows
from core.db import read_session, transaction
from core.errors import BadInput
from resolvers.study import goals, progress
from schema import fields
from schema.context import Info
from schema.ids import parse_id
from schema.study.subjects import Subject

GoalKind = strawberry.enum(rows.GoalKind, name="GoalKind")
GoalStatus = strawberry.enum(rows.GoalStatus, name="GoalStatus")


@strawberry.type
class StudyProgress:
    subject: Subject
    mastery_by_topic: JSON = strawberry.field(
        description="Each quiz topic to a 0 to 1 estimate of answering it correctly now (recent answers "
        "weigh most)."
    )
    summaries_read: int
    quizzes_answered: int
    correct_rate: float = strawberry.field(
        description="The mean score of quiz answers, 0 to 1; 0 without any."
    )
    current_streak: int = strawberry.field(
        description="Consecutive days with activity in the subject, in the user's time zone, up to today "
        "or yesterday."
    )
    longest_streak: int
    study_minutes: int

    @classmethod
    def from_view(cls, view: progress.ProgressView) -> "StudyProgress":
        return cls(
            subject=Subject.from_row(view.subject),
            mastery_by_topic=JSON(view.mastery_by_topic),
            summaries_read=view.summaries_read,
            quizzes_answered=view.quizzes_answered,
            correct_rate=view.correct_rate,
            current_streak=view.current_streak,
            longest_streak=view.longest_streak,
            study_minutes=view.study_minutes,
        )


@strawberry.type
class StudyGoal:
    id: strawberry.ID
    kind: GoalKind
    status: GoalStatus
    subject: Subject | None = strawberry.field(description="Null when activity in every subject counts.")
    target_summaries: int | None
    target_quizzes: int | None
    target_minutes: int | None
    progress: float = strawberry.field(
        description="0 to 1: the mean over the set targets of min(1, done / target) between startsOn and "
        "endsOn."
    )
    starts_on: date
    ends_on: date = strawberry.field(description="The goal's last day (included), in the user's time zone.")

    @classmethod
    def from_view(cls, view: goals.GoalView) -> "StudyGoal":
        goal = view.goal
        return cls(
            id=strawberry.ID(str(goal.id)),
            kind=goal.kind,
            status=goal.status,
            subject=None if view.subject is None else Subject.from_row(view.subject),
            target_summaries=goal.target_summaries,
            target_quizzes=goal.target_quizzes,
            target_minutes=goal.target_minutes,
            progress=view.progress,
            starts_on=goal.starts_on,
            ends_on=goal.ends_on,
        )


@strawberry.input
class StudyGoalInput:
    kind: GoalKind
    subject_id: strawberry.ID | None = strawberry.field(
        default=None, description="Without it, activity in every subject counts."
    )
    target_summaries: int | None = strawberry.field(default=None, description="At least 1 when given.")
    target_quizzes: int | None = strawberry.field(default=None, description="At least 1 when given.")
    target_minutes: int | None = strawberry.field(default=None, description="At least 1 when given.")
    starts_on: date | None = strawberry.field(
        default=None,
        description="Required for CUSTOM. Otherwise, by default, the start of the current day, week "
        "(Monday) or month in the user's time zone.",
    )
    ends_on: date | None = strawberry.field(
        default=None,
        description="Required for CUSTOM. Otherwise, by default, the end of the day, week or month holding "
        "startsOn. Not before startsOn nor today.",
    )

    def draft(self) -> goals.GoalDraft:
        subject_id = None
        if self.subject_id is not None:
            try:
                subject_id = uuid.UUID(str(self.subject_id))
            except ValueError as error:
                raise BadInput("Unknown subject", field="subjectId") from error
        return goals.GoalDraft(
            kind=self.kind,
            subject_id=subject_id,
            target_summaries=self.target_summaries,
            target_quizzes=self.target_quizzes,
            target_minutes=self.target_minutes,
            starts_on=self.starts_on,
            ends_on=self.ends_on,
        )


@strawberry.type
class ProgressQuery:
    @fields.field("The signed-in user's progress in the subject, from their recorded activity.")
    async def study_progress(self, info: Info, subject_id: strawberry.ID) -> StudyProgress:
        async with read_session() as db:
            view = await progress.study_progress(db, info.context.actor, parse_id(subject_id, "Subject"))
        return StudyProgress.from_view(view)

    @fields.field(
        "The signed-in user's goals (all, or those of one status), newest window first, at most 200."
    )
    async def study_goals(self, info: Info, status: GoalStatus | None = None) -> list[StudyGoal]:
        async with read_session() as db:
            views = await goals.list_goals(db, info.context.actor, status)
        return [StudyGoal.from_view(view) for view in views]


@strawberry.type
class ProgressMutation:
    @fields.mutation(
        "A goal for the signed-in user; ACHIEVED at once when activity already in its window reaches it. "
        "At most 50 goals are ACTIVE at once (CONFLICT)."
    )
    async def create_study_goal(self, info: Info, input: StudyGoalInput) -> StudyGoal:
        async with transaction() as db:
            view = await goals.create_goal(db, info.context.actor, input.draft())
        return StudyGoal.from_view(view)

    @fields.mutation(
        "Redefines one of the user's ACTIVE goals by the input, with the same defaults as a new goal "
        "(CONFLICT once the goal is closed)."
    )
    async def update_study_goal(self, info: Info, id: strawberry.ID, input: StudyGoalInput) -> StudyGoal:
        async with transaction() as db:
            view = await goals.update_goal(db, info.context.actor, parse_id(id, "StudyGoal"), input.draft())
        return StudyGoal.from_view(view)

    @fields.mutation("Gives up one of the user's ACTIVE goals (CONFLICT once the goal is closed).")
    async def abandon_study_goal(self, info: Info, id: strawberry.ID) -> StudyGoal:
        async with transaction() as db:
            view = await goals.abandon_goal(db, info.context.actor, parse_id(id, "StudyGoal"))
        return StudyGoal.from_view(view)
