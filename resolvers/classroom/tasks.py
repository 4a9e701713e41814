"""Tasks and their steps.

Steps are never deleted or recreated (see models/classroom.py), so progress always points at a real
step. Whenever a task's steps change, its open sessions are sent their current step again.
"""

import uuid
from dataclasses import dataclass

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import text
from core.auth import Actor, require_user
from core.errors import BadInput, Conflict, NotFound
from models.base import utcnow
from models.classroom import (
    Lecture,
    LiveSession,
    SessionStatus,
    Step,
    StepContent,
    StepRevision,
    TargetAction,
    Task,
    UiTarget,
)
from resolvers.classroom import live
from resolvers.classroom.access import can_see_lecture, own_lecture, own_task
from resolvers.classroom.loaders import live_steps

MAX_STEPS_PER_TASK = 200
MAX_TARGET_FIELD_LENGTH = 500


@dataclass(frozen=True, kw_only=True)
class StepDraft:
    title: str
    description: str | None = None
    target_action: TargetAction | None = None
    guide_text: str
    voice_guide_text: str | None = None
    target_hint: UiTarget | None = None


def _target(target: UiTarget | None) -> dict[str, str] | None:
    """The stored form of a target, each field cleaned like any other text; None when it names nothing."""
    if target is None:
        return None
    cleaned = {
        name: text.clean(value, f"targetHint.{_camel(name)}", max_length=MAX_TARGET_FIELD_LENGTH)
        for name, value in target.model_dump().items()
    }
    return UiTarget.model_validate(cleaned).stored()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _content(draft: StepDraft) -> StepContent:
    return StepContent(
        title=text.required(draft.title, "title", max_length=text.TITLE),
        description=text.clean(draft.description, "description", max_length=text.TEXT, multi_line=True),
        target_action=draft.target_action,
        guide_text=text.required(draft.guide_text, "guideText", max_length=text.TEXT, multi_line=True),
        voice_guide_text=text.clean(
            draft.voice_guide_text, "voiceGuideText", max_length=text.TEXT, multi_line=True
        ),
        target_hint=_target(draft.target_hint),
    )


async def get_task(db: AsyncSession, actor: Actor, task_id: uuid.UUID) -> Task:
    found = (await db.execute(select(Task, Lecture).join(Lecture).where(col(Task.id) == task_id))).first()
    if found is None or not can_see_lecture(actor, found[1]):
        raise NotFound("Task")
    return found[0]


async def create_task(
    db: AsyncSession,
    actor: Actor,
    lecture_id: uuid.UUID,
    title: str,
    description: str | None,
    steps: list[StepDraft],
) -> Task:
    """Also the entry point for turning an analysed recording into a task."""
    lecture = await own_lecture(db, actor, lecture_id)
    if not lecture.is_active:
        raise Conflict("This lecture is archived")
    if len(steps) > MAX_STEPS_PER_TASK:
        raise BadInput(f"A task has at most {MAX_STEPS_PER_TASK} steps", field="steps")
    task = Task(
        lecture_id=lecture.id,
        title=text.required(title, "title", max_length=text.TITLE),
        description=text.clean(description, "description", max_length=text.TEXT, multi_line=True),
    )
    contents = [_content(draft) for draft in steps]
    db.add(task)
    await db.flush()
    db.add_all(
        Step(task_id=task.id, position=position, **content.model_dump())
        for position, content in enumerate(contents, start=1)
    )
    await db.flush()
    return task


async def _own_step(db: AsyncSession, actor: Actor, step_id: uuid.UUID) -> tuple[Task, Step]:
    step = await db.get(Step, step_id)
    if step is None or step.removed_at is not None:
        raise NotFound("Step")
    task = await own_task(db, actor, step.task_id)
    await db.refresh(step, with_for_update=True)
    return task, step


async def update_step(db: AsyncSession, actor: Actor, step_id: uuid.UUID, draft: StepDraft) -> Step:
    task, step = await _own_step(db, actor, step_id)
    content = _content(draft)
    kept = StepContent.model_validate(step, from_attributes=True).model_dump()
    db.add(StepRevision(step_id=step.id, version=step.version, edited_by=require_user(actor).user_id, **kept))
    for name, value in content.model_dump().items():
        setattr(step, name, value)
    step.version += 1
    step.updated_at = utcnow()
    await db.flush()
    await _resend_current_steps(db, task.id)
    return step


async def add_step(
    db: AsyncSession, actor: Actor, task_id: uuid.UUID, draft: StepDraft, position: int | None
) -> Step:
    task = await own_task(db, actor, task_id)
    content = _content(draft)
    steps = await live_steps(db, task.id)
    if len(steps) >= MAX_STEPS_PER_TASK:
        raise BadInput(f"A task has at most {MAX_STEPS_PER_TASK} steps", field="taskId")
    index = len(steps) if position is None else position - 1
    if not 0 <= index <= len(steps):
        raise BadInput(f"position must be between 1 and {len(steps) + 1}", field="position")
    step = Step(task_id=task.id, position=len(steps) + 1, **content.model_dump())
    db.add(step)
    await db.flush()
    await _renumber(db, [*steps[:index], step, *steps[index:]])
    await _resend_current_steps(db, task.id)
    return step


async def remove_step(db: AsyncSession, actor: Actor, step_id: uuid.UUID) -> bool:
    task, step = await _own_step(db, actor, step_id)
    showing = await db.scalar(
        select(func.count())
        .select_from(LiveSession)
        .where(col(LiveSession.current_step_id) == step.id, col(LiveSession.status) != SessionStatus.ENDED)
    )
    if showing:
        raise Conflict("A live session is showing this step; move it on first")
    step.removed_at = utcnow()
    await db.flush()
    await _renumber(db, await live_steps(db, task.id))
    await _resend_current_steps(db, task.id)
    return True


async def reorder_steps(
    db: AsyncSession, actor: Actor, task_id: uuid.UUID, step_ids: list[uuid.UUID]
) -> Task:
    task = await own_task(db, actor, task_id)
    steps = {step.id: step for step in await live_steps(db, task.id)}
    if len(step_ids) != len(steps) or set(step_ids) != set(steps):
        raise BadInput("stepIds must list every step of the task exactly once", field="stepIds")
    await _renumber(db, [steps[i] for i in step_ids])
    await _resend_current_steps(db, task.id)
    return task


async def _renumber(db: AsyncSession, ordered: list[Step]) -> None:
    """Positions 1…n in the given order.

    Postgres checks a unique index row by row, so the steps first step aside to negative positions.
    """
    if not ordered:
        return
    ids = [step.id for step in ordered]
    where = col(Step.id).in_(ids)
    await db.execute(update(Step).where(where).values(position=-col(Step.position) - 1))
    positions = {step.id: position for position, step in enumerate(ordered, start=1)}
    await db.execute(update(Step).where(where).values(position=case(positions, value=col(Step.id))))
    for step in ordered:
        step.position = positions[step.id]


async def _resend_current_steps(db: AsyncSession, task_id: uuid.UUID) -> None:
    """A phone must never show a stale step: sessions of the task get the current step again."""
    sessions = (
        await db.execute(
            select(LiveSession).where(
                col(LiveSession.task_id) == task_id,
                col(LiveSession.status) != SessionStatus.ENDED,
                col(LiveSession.current_step_id).is_not(None),
            )
        )
    ).scalars()
    steps = await live_steps(db, task_id)
    by_id = {step.id: step for step in steps}
    for session in sessions:
        current = by_id.get(session.current_step_id) if session.current_step_id else None
        if current is not None:
            live.emit(db, session.id, live.step_changed(current, len(steps), None))
