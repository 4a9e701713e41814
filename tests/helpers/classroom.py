"""Classroom test data made through the real resolvers, and the operations several classroom tests send."""

import uuid
from dataclasses import dataclass

from core.auth import ParticipantActor, Role, UserActor
from core.db import transaction
from models.classroom import Lecture, LiveSession, Participant, Step, Task
from resolvers import classroom
from tests.helpers.factories import Account, make_account

SESSION_EVENTS = """
subscription($id: ID!) { sessionEvents(sessionId: $id) {
  __typename
  ... on SessionSnapshot { seq at status totalSteps currentStep { id } participants { id displayName } }
  ... on StepChanged { seq at totalSteps instructorNote
      step { id order title guideText voiceGuideText targetAction targetHint { viewId text } } }
  ... on SessionStatusChanged { seq at status previousStatus }
  ... on ParticipantJoined { seq at participantCount participant { id displayName } }
  ... on ParticipantLeft { seq at participantCount participant { id } }
  ... on InstructorMessage { seq at message }
  ... on ProgressUpdated { seq at progress { status participant { id } step { id } } }
} }"""
NEXT = "mutation($id: ID!, $m: String) { nextStep(sessionId: $id, message: $m) { id } }"


def actor(account: Account) -> UserActor:
    return UserActor(account.user.id, account.user.role)


def step_draft(n: int) -> classroom.StepDraft:
    return classroom.StepDraft(
        title=f"Step {n}",
        description=f"Do thing {n}",
        target_action=classroom.TargetAction.CLICK,
        guide_text=f"Tap the button number {n}",
        voice_guide_text=f"Now tap button {n}",
        target_hint=classroom.UiTarget(view_id=f"com.example:id/button{n}", text=f"Button {n}"),
    )


async def make_lecture(instructor: Account, title: str = "Sending a photo") -> Lecture:
    async with transaction() as db:
        return await classroom.create_lecture(db, actor(instructor), title, "KakaoTalk basics")


async def make_task(
    instructor: Account, lecture: Lecture, steps: int = 3, title: str = "Send a photo"
) -> Task:
    async with transaction() as db:
        drafts = [step_draft(n) for n in range(1, steps + 1)]
        return await classroom.create_task(db, actor(instructor), lecture.id, title, None, drafts)


async def task_steps(task_id: uuid.UUID) -> list[Step]:
    from core.db import read_session

    async with read_session() as db:
        return (await classroom.live_steps_by_task(db, [task_id]))[0]


@dataclass
class Classroom:
    instructor: Account
    lecture: Lecture
    task: Task
    session: LiveSession
    steps: list[Step]

    @property
    def id(self) -> str:
        return str(self.session.id)


async def make_classroom(steps: int = 3, *, start: bool = False) -> Classroom:
    instructor = await make_account(Role.INSTRUCTOR, name="Park Instructor")
    lecture = await make_lecture(instructor)
    task = await make_task(instructor, lecture, steps)
    async with transaction() as db:
        session = await classroom.create_live_session(db, actor(instructor), lecture.id, task.id, None)
    if start:
        async with transaction() as db:
            session = await classroom.control(db, actor(instructor), session.id, classroom.Action.START)
    return Classroom(instructor, lecture, task, session, await task_steps(task.id))


@dataclass
class Joined:
    participant: Participant
    token: str

    @property
    def id(self) -> str:
        return str(self.participant.id)


async def complete(room: Classroom, joined: "Joined", step: Step) -> None:
    """The participant reports the step COMPLETED."""
    async with transaction() as db:
        await classroom.report_progress(
            db,
            ParticipantActor(joined.participant.id, room.session.id),
            room.session.id,
            step.id,
            classroom.ProgressStatus.COMPLETED,
        )


async def join(room: Classroom, name: str = "Grandma Lee", device_id: str | None = None) -> Joined:
    async with transaction() as db:
        result = await classroom.join_session(db, None, room.session.code, name, device_id, "10.0.0.1")
    return Joined(result.participant, result.token)
