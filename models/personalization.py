"""Each student's ability belief per subject and per quiz topic (resolvers/personalization/model.py).

One table for both: `topic` '' is the subject as a whole, any other value one quiz topic of it, so a
graded answer reads and writes both of its rows in one statement each.
"""

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from models.base import created_at_field

# The `topic` of the row that covers the whole subject.
WHOLE_SUBJECT = ""


class LearnerAbility(SQLModel, table=True):
    __tablename__ = "learner_abilities"
    __table_args__ = (
        CheckConstraint("ability_variance > 0", name="ability_variance"),
        CheckConstraint("answered >= 0", name="answered"),
    )

    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    subject_id: uuid.UUID = Field(foreign_key="subjects.id", primary_key=True, ondelete="CASCADE", index=True)
    topic: str = Field(default=WHOLE_SUBJECT, primary_key=True, max_length=200)
    # The belief about the student's ability, in logits relative to a MEDIUM question: mean and variance.
    ability: float
    ability_variance: float
    answered: int
    updated_at: datetime = created_at_field()
