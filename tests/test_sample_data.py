from sqlalchemy import func, select

from core.db import read_session
from models.accounts import User
from models.classroom import Lecture, Step
from models.quizzes import Quiz
from sample_data import DEMO_ACCOUNTS, ensure_sample_data
from tests.helpers.client import GraphQLClient

LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken user { role } } }"


async def test_sample_data_is_created_once_and_its_accounts_sign_in(gql: GraphQLClient) -> None:
    # Given the dev stack seeds twice (a restart)
    await ensure_sample_data()
    await ensure_sample_data()
    # Then there is one of each demo account and one demo lecture with its steps
    async with read_session() as db:
        users = (await db.execute(select(func.count()).select_from(User))).scalar_one()
        lectures = (await db.execute(select(func.count()).select_from(Lecture))).scalar_one()
        steps = (await db.execute(select(func.count()).select_from(Step))).scalar_one()
        quizzes = (await db.execute(select(func.count()).select_from(Quiz))).scalar_one()
    assert (users, lectures, steps, quizzes) == (3, 1, 4, 5)
    # And every demo account signs in with the printed password and has its role
    for demo in DEMO_ACCOUNTS:
        data = await gql.data(LOGIN, {"e": demo.email, "p": demo.password})
        assert data["login"]["user"]["role"] == demo.role
