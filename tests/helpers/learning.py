"""Learning sessions seen from a test: a subject to study, and the session's stored row and state."""

import uuid

from core.auth import Role, UserActor
from core.db import read_session, transaction
from core.redis import redis
from models.study import LearningSession, Subject
from resolvers.study import subjects
from resolvers.study.learning.store import state_key

START = (
    "mutation($s: ID!) { startLearningSession(subjectId: $s) { id subject { id name } startedAt endedAt } }"
)
TRACK = """
mutation($id: ID!, $type: LearningEventType!, $data: JSON) {
  trackLearningEvent(learningSessionId: $id, type: $type, data: $data) }"""
END = """
mutation($id: ID!) { endLearningSession(id: $id) {
  session { id endedAt endedBy } durationSeconds focus velocity efficiency } }"""
ANALYTICS = """
subscription($id: ID!) { learningAnalytics(learningSessionId: $id) {
  learningSessionId focus velocity efficiency alerts { kind message } recommendations ended computedAt } }"""


async def make_subject(name: str = "Chemistry") -> Subject:
    draft = subjects.SubjectDraft(name=name, category="Science")
    async with transaction() as db:
        return await subjects.create_subject(db, UserActor(uuid.uuid4(), Role.ADMIN), draft)


async def stored_session(session_id: str | uuid.UUID) -> LearningSession | None:
    async with read_session() as db:
        return await db.get(LearningSession, uuid.UUID(str(session_id)))


async def stored_state(session_id: str | uuid.UUID) -> dict[str, str]:
    fields: dict[str, str] = await redis().hgetall(state_key(uuid.UUID(str(session_id))))  # type: ignore[misc]
    return fields
