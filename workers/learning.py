"""`learning.end_timed_out`: ends the learning sessions left open for more than 4 hours.

Each batch is one transaction (resolvers.study.learning.sessions.end_timed_out_sessions); a session
already ended is never touched, so the job is idempotent and safe beside a student's own end.
"""

import logging
from typing import Any

from core.db import transaction
from resolvers.study.learning.sessions import TIMEOUT_BATCH, end_timed_out_sessions

logger = logging.getLogger(__name__)


async def end_timed_out(ctx: dict[str, Any]) -> int:
    """Returns how many sessions it ended."""
    total = 0
    while True:
        async with transaction() as db:
            ended = await end_timed_out_sessions(db)
        total += ended
        if ended < TIMEOUT_BATCH:
            break
    if total:
        logger.info("ended %d learning sessions open for more than 4 hours", total)
    return total
