"""A user's summaries once written: listed, read, rated and bookmarked by their owner only; the subject's
averageRating from the rated ones; lists without a query per summary."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.helpers.client import GraphQLClient, error_code
from tests.helpers.db import count_queries
from tests.helpers.factories import Account, make_account
from tests.helpers.fake_ai_server import FakeAiServer, fake_ai_server, grant, point_providers_at
from tests.helpers.jobs import run_jobs
from tests.helpers.study import (
    AI_JOB,
    SUMMARY_FIELDS,
    make_subject,
    request_summary,
    summary_answer,
    summary_rows,
    written_summary,
)

SUMMARY = f"query($id: ID!) {{ summary(id: $id) {{ {SUMMARY_FIELDS} }} }}"
SUMMARIES = f"""
query($subjectId: ID, $bookmarked: Boolean, $first: Int, $after: String) {{
  summaries(subjectId: $subjectId, bookmarked: $bookmarked, first: $first, after: $after) {{
    edges {{ cursor node {{ {SUMMARY_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
MARK_READ = "mutation($id: ID!) { markSummaryRead(id: $id) { id isRead } }"
RATE = "mutation($id: ID!, $rating: Int!) { rateSummary(id: $id, rating: $rating) { id rating } }"
BOOKMARK = "mutation($id: ID!, $on: Boolean!) { bookmarkSummary(id: $id, bookmarked: $on) { id bookmarked } }"
AVERAGE = "query($id: ID!) { subject(id: $id) { averageRating } }"


@pytest.fixture
async def fake_ai(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeAiServer]:
    async with fake_ai_server(summary_answer) as fake:
        point_providers_at(monkeypatch, fake)
        grant(monkeypatch, "openai")
        yield fake


async def _listed(gql: GraphQLClient, account: Account, **variables: Any) -> list[str]:
    data = await gql.data(SUMMARIES, variables, token=account.token)
    return [edge["node"]["id"] for edge in data["summaries"]["edges"]]


async def test_summaries_lists_the_users_own_newest_first_by_subject_and_bookmark(
    gql: GraphQLClient, fake_ai: FakeAiServer
) -> None:
    # Given a student's three summaries over two subjects (one bookmarked) and a stranger's one
    student, stranger = await make_account(), await make_account()
    biology, chemistry = await make_subject("Biology"), await make_subject("Chemistry")
    first = await written_summary(gql, student, biology.id, "Cells")
    second = await written_summary(gql, student, chemistry.id)
    third = await written_summary(gql, student, biology.id, "Genes")
    await written_summary(gql, stranger, biology.id)
    await gql.data(BOOKMARK, {"id": first["id"], "on": True}, token=student.token)
    # When they list them, then filter
    everything = await _listed(gql, student)
    of_biology = await _listed(gql, student, subjectId=str(biology.id))
    bookmarked = await _listed(gql, student, bookmarked=True)
    not_bookmarked = await _listed(gql, student, bookmarked=False)
    # Then only their own, newest first
    assert everything == [third["id"], second["id"], first["id"]]
    assert of_biology == [third["id"], first["id"]]
    assert bookmarked == [first["id"]]
    assert not_bookmarked == [third["id"], second["id"]]


async def test_summaries_pages_with_a_cursor(gql: GraphQLClient, fake_ai: FakeAiServer) -> None:
    student = await make_account()
    subject = await make_subject()
    written = [await written_summary(gql, student, subject.id, f"Topic {n}") for n in range(3)]

    page = (await gql.data(SUMMARIES, {"first": 2}, token=student.token))["summaries"]
    after = page["pageInfo"]["endCursor"]
    rest = (await gql.data(SUMMARIES, {"first": 2, "after": after}, token=student.token))["summaries"]

    assert [edge["node"]["topic"] for edge in page["edges"]] == ["Topic 2", "Topic 1"]
    assert page["pageInfo"]["hasNextPage"] is True
    assert [edge["node"]["id"] for edge in rest["edges"]] == [written[0]["id"]]
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_marking_read_keeps_the_first_reading(gql: GraphQLClient, fake_ai: FakeAiServer) -> None:
    # Given a written summary, unread
    student = await make_account()
    summary = await written_summary(gql, student, (await make_subject()).id)
    assert summary["isRead"] is False
    # When it is marked read twice
    first = (await gql.data(MARK_READ, {"id": summary["id"]}, token=student.token))["markSummaryRead"]
    [row] = await summary_rows()
    await gql.data(MARK_READ, {"id": summary["id"]}, token=student.token)
    # Then it is read, since the first time
    [again] = await summary_rows()
    assert first == {"id": summary["id"], "isRead": True}
    assert row.read_at is not None and again.read_at == row.read_at


async def test_rating_and_bookmarking_change_the_summary(gql: GraphQLClient, fake_ai: FakeAiServer) -> None:
    student = await make_account()
    summary = await written_summary(gql, student, (await make_subject()).id)

    await gql.data(RATE, {"id": summary["id"], "rating": 2}, token=student.token)
    rated = (await gql.data(RATE, {"id": summary["id"], "rating": 5}, token=student.token))["rateSummary"]
    marked = (await gql.data(BOOKMARK, {"id": summary["id"], "on": True}, token=student.token))[
        "bookmarkSummary"
    ]
    stored = (await gql.data(SUMMARY, {"id": summary["id"]}, token=student.token))["summary"]

    assert (rated["rating"], marked["bookmarked"]) == (5, True)
    assert (stored["rating"], stored["bookmarked"]) == (5, True)


@pytest.mark.parametrize("rating", [0, 6, -1])
async def test_a_rating_outside_one_to_five_is_bad_user_input(
    gql: GraphQLClient, fake_ai: FakeAiServer, rating: int
) -> None:
    student = await make_account()
    summary = await written_summary(gql, student, (await make_subject()).id)
    await gql.data(RATE, {"id": summary["id"], "rating": 3}, token=student.token)

    error = await gql.error(RATE, {"id": summary["id"], "rating": rating}, token=student.token)

    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "rating")
    [row] = await summary_rows()
    assert row.rating == 3


async def test_another_users_summary_and_job_are_not_found(gql: GraphQLClient, fake_ai: FakeAiServer) -> None:
    # Given a student's summary and its job
    owner, stranger = await make_account(), await make_account()
    subject = await make_subject()
    job = await request_summary(gql, owner, subject.id)
    await run_jobs()
    summary = (await gql.data(AI_JOB, {"id": job["id"]}, token=owner.token))["aiJob"]["summary"]
    # When a stranger reads or changes them
    attempts = [
        (SUMMARY, {"id": summary["id"]}),
        (AI_JOB, {"id": job["id"]}),
        (MARK_READ, {"id": summary["id"]}),
        (RATE, {"id": summary["id"], "rating": 1}),
        (BOOKMARK, {"id": summary["id"], "on": True}),
    ]
    errors = [await gql.error(query, variables, token=stranger.token) for query, variables in attempts]
    # Then they are NOT_FOUND, unchanged, and the stranger's list is empty
    assert [error_code(error) for error in errors] == ["NOT_FOUND"] * 5
    [row] = await summary_rows()
    assert (row.read_at, row.rating, row.bookmarked) == (None, None, False)
    assert await _listed(gql, stranger) == []


async def test_summaries_need_a_signed_in_user(gql: GraphQLClient) -> None:
    error = await gql.error(SUMMARIES, {})

    assert error_code(error) == "UNAUTHENTICATED"


async def test_average_rating_is_the_mean_of_the_rated_summaries(
    gql: GraphQLClient, fake_ai: FakeAiServer
) -> None:
    # Given two students' summaries of a subject, rated 4 and 5, and one unrated; another subject unrated
    first, second = await make_account(), await make_account()
    subject, other = await make_subject("Biology"), await make_subject("Chemistry")
    rated_four = await written_summary(gql, first, subject.id)
    rated_five = await written_summary(gql, second, subject.id)
    await written_summary(gql, second, subject.id)
    await written_summary(gql, first, other.id)
    await gql.data(RATE, {"id": rated_four["id"], "rating": 4}, token=first.token)
    await gql.data(RATE, {"id": rated_five["id"], "rating": 5}, token=second.token)
    # When the subjects are read
    average = (await gql.data(AVERAGE, {"id": str(subject.id)}, token=first.token))["subject"]
    unrated = (await gql.data(AVERAGE, {"id": str(other.id)}, token=first.token))["subject"]
    # Then the mean counts only the rated summaries
    assert average == {"averageRating": 4.5}
    assert unrated == {"averageRating": None}


async def test_summaries_with_their_subjects_cost_the_same_however_many(
    gql: GraphQLClient, fake_ai: FakeAiServer
) -> None:
    # Given one summary
    student = await make_account()
    await written_summary(gql, student, (await make_subject("Subject 0")).id)
    query = "{ summaries(first: 50) { edges { node { id isRead subject { id name averageRating } } } } }"
    with count_queries() as few:
        one = await gql.data(query, token=student.token)
    # When there are five (the free month's credits), over five subjects
    for n in range(1, 5):
        await written_summary(gql, student, (await make_subject(f"Subject {n}")).id)
    with count_queries() as many:
        five = await gql.data(query, token=student.token)
    # Then both lists, with each summary's subject and its rating, cost the same number of statements
    assert len(one["summaries"]["edges"]) == 1
    assert len(five["summaries"]["edges"]) == 5
    assert len(many) == len(few)


async def test_reading_a_summary_counts_once_in_study_progress(
    gql: GraphQLClient, fake_ai: FakeAiServer
) -> None:
    # Given a written summary
    student = await make_account()
    biology = await make_subject("Biology")
    summary = await written_summary(gql, student, biology.id, "Cells")
    progress = "query($id: ID!) { studyProgress(subjectId: $id) { summariesRead currentStreak } }"
    before = (await gql.data(progress, {"id": str(biology.id)}, token=student.token))["studyProgress"]
    # When it is marked read twice
    for _ in range(2):
        await gql.data(MARK_READ, {"id": summary["id"]}, token=student.token)
    # Then the progress counts one summary read, today
    after = (await gql.data(progress, {"id": str(biology.id)}, token=student.token))["studyProgress"]
    assert before == {"summariesRead": 0, "currentStreak": 0}
    assert after == {"summariesRead": 1, "currentStreak": 1}
