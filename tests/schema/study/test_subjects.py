"""Subjects: admins create and edit them, everyone signed in searches them, through a trigram index."""

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.dialects import postgresql
from sqlmodel import col

from core.auth import Role, UserActor
from core.db import engine, read_session, transaction
from models.study import Difficulty, Subject
from resolvers.study import subjects
from sample_data import DEMO_SUBJECTS, ensure_sample_data
from tests.helpers.client import error_code
from tests.helpers.db import count_queries
from tests.helpers.factories import Account, make_account

FIELDS = "id name category description defaultDifficulty requiresPremium tags averageRating"
CREATE = f"mutation($input: SubjectInput!) {{ createSubject(input: $input) {{ {FIELDS} }} }}"
UPDATE = (
    f"mutation($id: ID!, $input: SubjectInput!) {{ updateSubject(id: $id, input: $input) {{ {FIELDS} }} }}"
)
SUBJECT = f"query($id: ID!) {{ subject(id: $id) {{ {FIELDS} }} }}"
SUBJECTS = """
query($search: String, $category: String, $first: Int, $after: String) {
  subjects(search: $search, category: $category, first: $first, after: $after) {
    edges { cursor node { id name averageRating } } pageInfo { hasNextPage endCursor } } }"""


async def make_subject(
    name: str,
    *,
    category: str = "Languages",
    description: str | None = None,
    tags: list[str] | None = None,
    difficulty: Difficulty | None = None,
) -> Subject:
    admin = UserActor(uuid.uuid4(), Role.ADMIN)
    draft = subjects.SubjectDraft(
        name=name, category=category, description=description, tags=tags, default_difficulty=difficulty
    )
    async with transaction() as db:
        return await subjects.create_subject(db, admin, draft)


async def stored_subjects() -> list[Subject]:
    async with read_session() as db:
        return list((await db.execute(select(Subject).order_by(col(Subject.name)))).scalars())


async def names_found(gql, account: Account, **variables: Any) -> list[str]:
    data = await gql.data(SUBJECTS, variables, token=account.token)
    return [edge["node"]["name"] for edge in data["subjects"]["edges"]]


async def test_an_admin_creates_a_subject_with_normalised_text_and_defaults(gql) -> None:
    # Given an admin
    admin = await make_account(Role.ADMIN)
    # When they create a subject with padded text and messy tags
    data = await gql.data(
        CREATE,
        {
            "input": {
                "name": "  Korean   for  Travellers ",
                "category": " Languages ",
                "description": "  Phrases for the airport,\nthe hotel and the market.  ",
                "tags": [" Hangul ", "travel", "HANGUL", "Phrase  book"],
            }
        },
        token=admin.token,
    )
    # Then the subject is stored cleaned, with the defaults and no rating yet
    created = data["createSubject"]
    assert created == {
        "id": created["id"],
        "name": "Korean for Travellers",
        "category": "Languages",
        "description": "Phrases for the airport,\nthe hotel and the market.",
        "defaultDifficulty": "MEDIUM",
        "requiresPremium": False,
        "tags": ["hangul", "travel", "phrase book"],
        "averageRating": None,
    }
    [stored] = await stored_subjects()
    assert (str(stored.id), stored.tags) == (created["id"], ["hangul", "travel", "phrase book"])


async def test_an_admin_sets_difficulty_and_premium_on_create(gql) -> None:
    admin = await make_account(Role.ADMIN)

    data = await gql.data(
        CREATE,
        {
            "input": {
                "name": "Calculus",
                "category": "Maths",
                "defaultDifficulty": "HARD",
                "requiresPremium": True,
            }
        },
        token=admin.token,
    )

    assert (data["createSubject"]["defaultDifficulty"], data["createSubject"]["requiresPremium"]) == (
        "HARD",
        True,
    )


@pytest.mark.parametrize("role", [Role.STUDENT, Role.INSTRUCTOR])
async def test_only_admins_create_subjects(gql, role: Role) -> None:
    # Given a signed-in user who is not an admin
    account = await make_account(role)
    # When they try to create a subject
    error = await gql.error(
        CREATE, {"input": {"name": "Chemistry", "category": "Science"}}, token=account.token
    )
    # Then they are refused and nothing is stored
    assert error_code(error) == "FORBIDDEN"
    assert await stored_subjects() == []


async def test_anonymous_users_neither_create_nor_list_subjects(gql) -> None:
    await make_subject("Chemistry")

    create = await gql.error(CREATE, {"input": {"name": "Physics", "category": "Science"}})
    listing = await gql.error(SUBJECTS)

    assert (error_code(create), error_code(listing)) == ("UNAUTHENTICATED", "UNAUTHENTICATED")
    assert [s.name for s in await stored_subjects()] == ["Chemistry"]


async def test_an_admin_edits_a_subject_and_left_out_fields_keep_their_values(gql) -> None:
    # Given a subject with a description, tags, a difficulty and premium access
    admin = await make_account(Role.ADMIN)
    created = await gql.data(
        CREATE,
        {
            "input": {
                "name": "Chemistry",
                "category": "Science",
                "description": "Atoms and molecules",
                "tags": ["atoms"],
                "defaultDifficulty": "HARD",
                "requiresPremium": True,
            }
        },
        token=admin.token,
    )
    subject_id = created["createSubject"]["id"]
    # When the admin renames it and changes only the tags
    data = await gql.data(
        UPDATE,
        {"id": subject_id, "input": {"name": "Organic Chemistry", "category": "Science", "tags": ["Carbon"]}},
        token=admin.token,
    )
    # Then the name and tags change and every left-out field keeps its value
    assert data["updateSubject"] == {
        "id": subject_id,
        "name": "Organic Chemistry",
        "category": "Science",
        "description": "Atoms and molecules",
        "defaultDifficulty": "HARD",
        "requiresPremium": True,
        "tags": ["carbon"],
        "averageRating": None,
    }


async def test_an_explicit_null_description_clears_it(gql) -> None:
    admin = await make_account(Role.ADMIN)
    subject = await make_subject("Chemistry", description="Atoms")

    data = await gql.data(
        UPDATE,
        {"id": str(subject.id), "input": {"name": "Chemistry", "category": "Science", "description": None}},
        token=admin.token,
    )

    assert data["updateSubject"]["description"] is None


async def test_only_admins_edit_subjects(gql) -> None:
    # Given a subject and a student
    subject = await make_subject("Chemistry", category="Science")
    student = await make_account()
    # When the student tries to rename it
    error = await gql.error(
        UPDATE,
        {"id": str(subject.id), "input": {"name": "Alchemy", "category": "Magic"}},
        token=student.token,
    )
    # Then they are refused and the subject is unchanged
    assert error_code(error) == "FORBIDDEN"
    assert [(s.name, s.category) for s in await stored_subjects()] == [("Chemistry", "Science")]


async def test_editing_an_unknown_subject_is_not_found(gql) -> None:
    admin = await make_account(Role.ADMIN)

    for subject_id in (str(uuid.uuid4()), "not-an-id"):
        error = await gql.error(
            UPDATE, {"id": subject_id, "input": {"name": "Ghost", "category": "None"}}, token=admin.token
        )
        assert error_code(error) == "NOT_FOUND"
    assert await stored_subjects() == []


async def test_subject_names_are_unique_regardless_of_case(gql) -> None:
    # Given a subject named Chemistry
    admin = await make_account(Role.ADMIN)
    await make_subject("Chemistry", category="Science")
    # When an admin creates "CHEMISTRY" in another category
    error = await gql.error(
        CREATE, {"input": {"name": " CHEMISTRY ", "category": "Other"}}, token=admin.token
    )
    # Then it is a conflict on the name and only the first is stored
    assert (error_code(error), error["extensions"]["field"]) == ("CONFLICT", "name")
    assert [(s.name, s.category) for s in await stored_subjects()] == [("Chemistry", "Science")]


async def test_renaming_onto_another_subjects_name_is_a_conflict(gql) -> None:
    admin = await make_account(Role.ADMIN)
    await make_subject("Chemistry")
    physics = await make_subject("Physics")

    error = await gql.error(
        UPDATE,
        {"id": str(physics.id), "input": {"name": "chemistry", "category": "Science"}},
        token=admin.token,
    )
    # Keeping its own name in another case is not a conflict
    renamed = await gql.data(
        UPDATE,
        {"id": str(physics.id), "input": {"name": "PHYSICS", "category": "Science"}},
        token=admin.token,
    )

    assert (error_code(error), error["extensions"]["field"]) == ("CONFLICT", "name")
    assert renamed["updateSubject"]["name"] == "PHYSICS"
    assert [s.name for s in await stored_subjects()] == ["Chemistry", "PHYSICS"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "Chem\u0000istry"}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"category": ""}, "category"),
        ({"category": "c" * 65}, "category"),
        ({"description": "d" * 2001}, "description"),
        ({"description": "bad\u0000text"}, "description"),
        ({"tags": ["ok", "  "]}, "tags"),
        ({"tags": ["t" * 41]}, "tags"),
        ({"tags": [f"tag {n}" for n in range(21)]}, "tags"),
        ({"tags": ["nul\u0000tag"]}, "tags"),
    ],
)
async def test_bad_subject_input_names_the_field_and_stores_nothing(
    gql, change: dict[str, Any], field: str
) -> None:
    # Given an admin
    admin = await make_account(Role.ADMIN)
    # When they create a subject with one bad field
    error = await gql.error(
        CREATE, {"input": {"name": "Chemistry", "category": "Science", **change}}, token=admin.token
    )
    # Then the error names that field and nothing is stored
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", field)
    assert await stored_subjects() == []


async def test_a_bad_edit_changes_nothing(gql) -> None:
    admin = await make_account(Role.ADMIN)
    subject = await make_subject("Chemistry", tags=["atoms"])

    error = await gql.error(
        UPDATE,
        {"id": str(subject.id), "input": {"name": "Alchemy\u0000", "category": "Magic", "tags": ["gold"]}},
        token=admin.token,
    )

    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "name")
    [stored] = await stored_subjects()
    assert (stored.name, stored.category, stored.tags) == ("Chemistry", "Languages", ["atoms"])


async def test_twenty_tags_are_allowed_after_duplicates_are_merged(gql) -> None:
    admin = await make_account(Role.ADMIN)
    tags = [f"tag {n}" for n in range(20)] + ["TAG 0", " tag 1 "]

    data = await gql.data(
        CREATE, {"input": {"name": "Many", "category": "Misc", "tags": tags}}, token=admin.token
    )

    assert data["createSubject"]["tags"] == [f"tag {n}" for n in range(20)]


async def test_search_finds_name_description_and_tag_regardless_of_case(gql) -> None:
    # Given subjects that mention "photo" in their name, description or a tag, and one that does not
    student = await make_account()
    await make_subject("Photography Basics", description="Light and lenses")
    await make_subject("Smartphone Skills", description="Sending a PHOTO to family")
    await make_subject("Art History", tags=["painting", "photorealism"])
    await make_subject("Chemistry", description="Atoms", tags=["science"])
    # When a student searches for "PhOtO"
    found = await names_found(gql, student, search="  PhOtO ")
    # Then each of the three is found, by name
    assert found == ["Art History", "Photography Basics", "Smartphone Skills"]
    assert await names_found(gql, student, search="atoms") == ["Chemistry"]
    assert await names_found(gql, student, search="nothing like this") == []


async def test_search_takes_like_wildcards_literally(gql) -> None:
    student = await make_account()
    await make_subject("100% Grammar")
    await make_subject("1000 Words")
    await make_subject("snake_case naming")
    await make_subject("Makexcode")

    assert await names_found(gql, student, search="100%") == ["100% Grammar"]
    assert await names_found(gql, student, search="e_c") == ["snake_case naming"]


async def test_category_filter_matches_the_whole_category_regardless_of_case(gql) -> None:
    student = await make_account()
    await make_subject("Korean", category="Languages")
    await make_subject("English", category="languages")
    await make_subject("Algebra", category="Maths")
    await make_subject("Sign Language", category="Languages and Signs")

    assert await names_found(gql, student, category=" LANGUAGES ") == ["English", "Korean"]
    assert await names_found(gql, student, category="Maths", search="alg") == ["Algebra"]
    assert await names_found(gql, student, category="Maths", search="korean") == []


async def test_subjects_page_by_name_with_cursors(gql) -> None:
    # Given five subjects
    student = await make_account()
    for name in ("Echo", "Alpha", "Delta", "Charlie", "Bravo"):
        await make_subject(name)
    # When a student walks the list two at a time
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        data = (await gql.data(SUBJECTS, {"first": 2, "after": after}, token=student.token))["subjects"]
        seen += [edge["node"]["name"] for edge in data["edges"]]
        pages += 1
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    # Then every subject comes once, A to Z, in three pages
    assert (seen, pages) == (["Alpha", "Bravo", "Charlie", "Delta", "Echo"], 3)


async def test_bad_page_arguments_are_bad_input(gql) -> None:
    student = await make_account()

    too_many = await gql.error(SUBJECTS, {"first": 101}, token=student.token)
    forged = await gql.error(SUBJECTS, {"after": "not a cursor"}, token=student.token)
    nul = await gql.error(SUBJECTS, {"search": "a\u0000b"}, token=student.token)

    assert [(error_code(e), e["extensions"]["field"]) for e in (too_many, forged, nul)] == [
        ("BAD_USER_INPUT", "first"),
        ("BAD_USER_INPUT", "after"),
        ("BAD_USER_INPUT", "search"),
    ]


async def test_a_subject_is_read_by_id(gql) -> None:
    student = await make_account()
    subject = await make_subject(
        "Chemistry", description="Atoms", tags=["science"], difficulty=Difficulty.EASY
    )

    data = await gql.data(SUBJECT, {"id": str(subject.id)}, token=student.token)
    missing = await gql.error(SUBJECT, {"id": str(uuid.uuid4())}, token=student.token)
    anonymous = await gql.error(SUBJECT, {"id": str(subject.id)})

    assert data["subject"] == {
        "id": str(subject.id),
        "name": "Chemistry",
        "category": "Languages",
        "description": "Atoms",
        "defaultDifficulty": "EASY",
        "requiresPremium": False,
        "tags": ["science"],
        "averageRating": None,
    }
    assert (error_code(missing), error_code(anonymous)) == ("NOT_FOUND", "UNAUTHENTICATED")


async def test_subjects_with_their_average_rating_cost_the_same_however_many(gql) -> None:
    # Given one subject
    student = await make_account()
    await make_subject("Subject 00")
    with count_queries() as few:
        one = await gql.data(SUBJECTS, {"first": 50}, token=student.token)
    # When there are twelve
    for n in range(1, 12):
        await make_subject(f"Subject {n:02d}")
    with count_queries() as many:
        twelve = await gql.data(SUBJECTS, {"first": 50}, token=student.token)
    # Then both lists, with averageRating, cost the same number of statements
    assert len(one["subjects"]["edges"]) == 1
    assert [edge["node"]["averageRating"] for edge in twelve["subjects"]["edges"]] == [None] * 12
    assert len(many) == len(few)


def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += _plan_nodes(child)
    return nodes


async def test_the_search_is_an_index_scan_not_a_sequential_scan() -> None:
    # Given a catalogue of 5,000 subjects with statistics, one of which mentions photosynthesis
    async with engine().begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO subjects (id, name, category, description, default_difficulty, requires_premium,"
                " tags, created_at, updated_at)"
                " SELECT gen_random_uuid(), 'Subject ' || n || ' ' || md5(n::text), 'Category ' || (n % 20),"
                " 'About ' || md5((n * 7)::text), 'MEDIUM', false, ARRAY['tag' || (n % 50)], now(), now()"
                " FROM generate_series(1, 5000) AS n"
            )
        )
        await connection.execute(
            text(
                "UPDATE subjects SET description = 'How plants use photosynthesis'"
                " WHERE name LIKE 'Subject 4321 %'"
            )
        )
        await connection.execute(text("ANALYZE subjects"))
    # When Postgres plans the statement `subjects(search: "Photosynthesis")` runs
    statement = (
        subjects.subjects_statement("Photosynthesis", None)
        .order_by(col(Subject.name), col(Subject.id))
        .limit(21)
    )
    sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    async with engine().connect() as connection:
        raw = (await connection.execute(text(f"EXPLAIN (FORMAT JSON) {sql}"))).scalar_one()
        found = (await connection.execute(statement)).scalars().all()
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    nodes = _plan_nodes(plan)
    # Then it reads the trigram index, never the whole table, and finds the one subject
    assert "ix_subjects_search_text" in {node.get("Index Name") for node in nodes}, plan
    assert "Seq Scan" not in {node["Node Type"] for node in nodes}, plan
    assert len(found) == 1


async def test_sample_data_seeds_the_demo_subjects_once() -> None:
    await ensure_sample_data()
    await ensure_sample_data()

    async with read_session() as db:
        count = (await db.execute(select(func.count()).select_from(Subject))).scalar_one()
    assert count == len(DEMO_SUBJECTS) >= 3
