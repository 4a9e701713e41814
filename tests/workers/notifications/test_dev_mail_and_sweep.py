"""Development email as .eml files, and the sweeper that queues deliveries whose job was lost."""

from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from core.email import EmlFileSender, email_sender
from core.jobs import job_queue
from core.settings import get_settings
from models.base import utcnow
from models.notifications import Channel
from resolvers.notifications.pipeline import delivery_job_id
from tests.helpers.factories import make_account
from tests.helpers.notification_delivery import notify
from workers.notifications import deliver, sweep


async def test_without_smtp_the_mail_dir_gets_each_email_as_an_eml_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given no SMTP_URL but a MAIL_DIR, as `studymate dev` sets it
    monkeypatch.setattr(get_settings(), "smtp_url", None)
    monkeypatch.setattr(get_settings(), "mail_dir", str(tmp_path / "mail"))
    assert isinstance(email_sender(), EmlFileSender)
    account = await make_account()
    created = await notify(account.user.id, "goal_achieved", "goal:eml", goal="10 quizzes")
    [email] = [row for row in created if row.channel is Channel.EMAIL]
    # When the worker delivers it
    assert await deliver({}, str(email.id)) == "sent"
    # Then one .eml file holds both parts
    [path] = list((tmp_path / "mail").iterdir())
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["Subject"] == "목표를 달성했습니다!"
    assert [part.get_content_type() for part in message.walk()][1:] == ["text/plain", "text/html"]


async def test_the_sweeper_queues_a_delivery_whose_job_was_lost() -> None:
    # Given an email delivery that is overdue and whose job is no longer in the queue
    account = await make_account()
    created = await notify(account.user.id, "goal_achieved", "goal:lost", goal="g")
    [email] = [row for row in created if row.channel is Channel.EMAIL]
    queue = await job_queue()
    job_id = delivery_job_id(email.id, 0, None)
    await queue.delete("arq:queue", f"arq:job:{job_id}")
    # When the sweeper runs a few minutes later
    queued = await sweep({"clock": lambda: utcnow() + timedelta(minutes=5)})
    # Then the delivery is queued again
    assert queued == 1
    assert await queue.zscore("arq:queue", job_id) is not None
