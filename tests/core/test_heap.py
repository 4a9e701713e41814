"""A serving process keeps its start-up heap out of the garbage collector's full collections."""

import gc

from core.heap import YOUNG_GENERATION_THRESHOLD


async def test_the_api_freezes_its_start_up_heap(api_url: str) -> None:
    # Given the api has started (in this process, as the tests run it)
    # Then what it allocated while starting sits in the permanent generation
    assert gc.get_freeze_count() > 0
    # And young collections run less often than CPython's default
    assert gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD
