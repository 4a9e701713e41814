"""The Step type: the unit of a task, read by the classroom's other types and its live events."""

import uuid

import strawberry

import models.classroom as rows
from resolvers.classroom import live
from schema.classroom.loaders import load_live_steps_of_task, load_steps
from schema.context import Info
from schema.ui_target import UiTarget

TargetAction = strawberry.enum(rows.TargetAction, name="TargetAction")


@strawberry.type
class Step:
    id: strawberry.ID
    order: int
    title: str
    description: str | None
    target_action: TargetAction | None
    guide_text: str
    voice_guide_text: str | None
    target_hint: UiTarget | None
    version: int = strawberry.field(description="Grows with every edit; earlier versions are kept.")
    removed: bool = strawberry.field(description="Removed from its task; kept for progress and history.")

    @classmethod
    def of(cls, step: live.StepView) -> "Step":
        return cls(
            id=strawberry.ID(str(step.id)),
            order=step.order,
            title=step.title,
            description=step.description,
            target_action=step.target_action,
            guide_text=step.guide_text,
            voice_guide_text=step.voice_guide_text,
            target_hint=UiTarget.of(step.target_hint),
            version=step.version,
            removed=step.removed,
        )

    @classmethod
    def from_row(cls, step: rows.Step | rows.StepRecord) -> "Step":
        # Straight from the row, not through the event's validated `StepView`: lists read hundreds.
        return cls(
            id=strawberry.ID(str(step.id)),
            order=step.position,
            title=step.title,
            description=step.description,
            target_action=step.target_action,
            guide_text=step.guide_text,
            voice_guide_text=step.voice_guide_text,
            target_hint=UiTarget.from_stored(step.target_hint),
            version=step.version,
            removed=step.removed_at is not None,
        )


async def load_step(info: Info, step_id: uuid.UUID | None) -> Step | None:
    if step_id is None:
        return None
    row = await info.context.loader(load_steps).load(step_id)
    return Step.from_row(row) if row else None


async def live_steps(info: Info, task_id: uuid.UUID) -> list[Step]:
    return [Step.from_row(row) for row in await info.context.loader(load_live_steps_of_task).load(task_id)]
