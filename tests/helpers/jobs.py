"""The arq queue seen from a test: run what is queued."""


async def run_jobs() -> int:
    """Runs a real arq worker in burst mode until the queue is empty; returns the jobs it completed."""
    from arq.worker import Worker

    from workers.settings import worker_settings

    settings = worker_settings()
    worker = Worker(
        functions=settings["functions"],
        redis_settings=settings["redis_settings"],
        burst=True,
        handle_signals=False,
        poll_delay=0.05,
    )
    try:
        await worker.main()
    finally:
        await worker.close()
    return worker.jobs_complete
