"""The study goals' cron: closes the goals whose window has ended in their owner's time zone.

`study.close_goals` runs every ten minutes; one statement closes every ended goal (ACHIEVED when it
reached its targets, EXPIRED otherwise), so running it again, or on two workers, closes nothing twice.
"""

import logging
from typing import Any

from core.db import transaction
from models.base import utcnow
from models.study import GoalStatus
from resolvers.study.goal_progress import close_ended_goals

logger = logging.getLogger(__name__)


async def close_goals(ctx: dict[str, Any]) -> int:
    """Returns how many goals it closed."""
    async with transaction() as db:
        closed = await close_ended_goals(db, now=utcnow())
    if closed:
        achieved = sum(goal.status is GoalStatus.ACHIEVED for goal in closed)
        logger.info("closed %d ended study goals (%d achieved)", len(closed), achieved)
    return len(closed)
