"""`studyrooms.timer_boundary`: announces a study room's next timer phase at the moment it begins.

Each run is deferred by arq until its boundary and scheduled by the previous one (or by `startFocusTimer`);
its job id names the room, the timer's start and the boundary, so scheduling it twice queues it once.
"""

import uuid
from datetime import datetime
from typing import Any

from core.db import transaction
from resolvers.studyrooms.timer import announce_boundary

MAX_TRIES = 5


async def timer_boundary(ctx: dict[str, Any], room_id: str, started_at: str, index: int) -> bool:
    """Whether it announced the phase (not when the room closed or its timer restarted meanwhile)."""
    async with transaction() as db:
        return await announce_boundary(db, uuid.UUID(room_id), datetime.fromisoformat(started_at), index)
