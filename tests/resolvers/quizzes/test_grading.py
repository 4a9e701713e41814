"""The grading rules as tables: every type, partial credit, normalisation (Korean, full-width) and shapes."""

from fractions import Fraction

import pytest

from core.errors import BadInput
from models.quizzes import Answer, KeyChoice, KeyPair, QuizKey, QuizType
from resolvers.quizzes.grading import blank_count, correct_answer, grade, normalize, points_earned


def full_width(ascii_text: str) -> str:
    """The text in full-width forms (U+FF01 to U+FF5E), as a Korean or Japanese keyboard may type it."""
    return "".join(
        chr(ord(character) + 0xFEE0) if "!" <= character <= "~" else character for character in ascii_text
    )


MC = QuizKey(
    choices=[
        KeyChoice(id="a", text="Seoul", correct=True),
        KeyChoice(id="b", text="Busan", correct=True),
        KeyChoice(id="c", text="Tokyo", correct=False),
        KeyChoice(id="d", text="Osaka", correct=False),
        KeyChoice(id="e", text="Incheon", correct=True),
    ]
)
SINGLE = QuizKey(
    choices=[KeyChoice(id="x", text="4", correct=True), KeyChoice(id="y", text="5", correct=False)]
)
SHORT = QuizKey(accepted_answers=["서울", "Seoul", "The capital"])
BLANKS = QuizKey(blank_answers=[["Hangul", "한글"], ["Sejong", "King Sejong"], ["1443"]])
PAIRS = QuizKey(
    pairs=[
        KeyPair(left="사과", right="apple"),
        KeyPair(left="바나나", right="banana"),
        KeyPair(left="포도", right="grape"),
        KeyPair(left="수박", right="watermelon"),
    ]
)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Seoul", "seoul"),
        ("  SEOUL  ", "seoul"),
        ("Seoul.", "seoul"),
        ("Seoul!?…", "seoul"),
        ("New   York\tCity", "new york city"),
        (full_width("SEOUL"), "seoul"),
        (full_width("1443"), "1443"),
        ("서울。", "서울"),  # ideographic full stop
        ("서울 " + full_width("!"), "서울"),
        ("ﾊﾝｸﾞﾙ", "ハングル"),  # half-width katakana composed by NFKC
        ("한글", "한글"),
        ("Straße", "strasse"),  # case folding, not just lower-casing
        ("e.g. this", "e.g. this"),  # only trailing punctuation goes
        ("¿Qué?", "¿qué"),
        ("C++", "c++"),  # symbols are not punctuation
        ("!!!", ""),
    ],
)
def test_normalize(raw: str, normalized: str) -> None:
    assert normalize(raw) == normalized


def test_korean_composed_and_decomposed_spellings_are_the_same_answer() -> None:
    decomposed = "\u1100\u1161"  # ᄀ + ᅡ, the jamo of 가
    assert normalize(decomposed) == normalize("가") == "가"


@pytest.mark.parametrize(
    ("chosen", "score"),
    [
        (["a", "b", "e"], Fraction(1)),
        (["a"], Fraction(1, 3)),
        (["a", "b"], Fraction(2, 3)),
        (["a", "c"], Fraction(0)),
        (["a", "b", "c"], Fraction(1, 3)),
        (["a", "b", "e", "c"], Fraction(2, 3)),
        (["c", "d"], Fraction(0)),  # floored at 0, never negative
        (["a", "b", "c", "d", "e"], Fraction(1, 3)),
        (["e", "a", "b"], Fraction(1)),  # order does not matter
    ],
)
def test_multiple_choice_partial_credit(chosen: list[str], score: Fraction) -> None:
    assert grade(QuizType.MULTIPLE_CHOICE, MC, Answer(choice_ids=chosen)) == score


@pytest.mark.parametrize(("chosen", "score"), [(["x"], 1), (["y"], 0), (["x", "y"], 0)])
def test_multiple_choice_with_one_correct_choice(chosen: list[str], score: int) -> None:
    assert grade(QuizType.MULTIPLE_CHOICE, SINGLE, Answer(choice_ids=chosen)) == score


@pytest.mark.parametrize(
    ("key", "given", "score"), [(True, True, 1), (True, False, 0), (False, False, 1), (False, True, 0)]
)
def test_true_false(key: bool, given: bool, score: int) -> None:
    assert grade(QuizType.TRUE_FALSE, QuizKey(answer_boolean=key), Answer(boolean=given)) == score


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("서울", 1),
        ("  서울. ", 1),
        (full_width("seoul"), 1),
        ("SEOUL!", 1),
        ("the   CAPITAL", 1),
        ("Seoul City", 0),
        ("Busan", 0),
        ("", 0),
        ("서 울", 0),
    ],
)
def test_short_answer_is_normalised_before_comparing(text: str, score: int) -> None:
    assert grade(QuizType.SHORT_ANSWER, SHORT, Answer(text=text)) == score


@pytest.mark.parametrize(
    ("blanks", "score"),
    [
        (["Hangul", "Sejong", "1443"], Fraction(1)),
        (["한글", "king  sejong.", full_width("1443")], Fraction(1)),
        (["Hangul", "Taejo", "1443"], Fraction(2, 3)),
        (["Kanji", "Taejo", "1443"], Fraction(1, 3)),
        (["", "", ""], Fraction(0)),
        (["1443", "Hangul", "Sejong"], Fraction(0)),  # each blank against its own answers
    ],
)
def test_fill_blank_is_scored_per_blank(blanks: list[str], score: Fraction) -> None:
    assert grade(QuizType.FILL_BLANK, BLANKS, Answer(blanks=blanks)) == score


def _pairs(*pairs: tuple[str, str]) -> list[KeyPair]:
    return [KeyPair(left=left, right=right) for left, right in pairs]


@pytest.mark.parametrize(
    ("pairs", "score"),
    [
        (
            _pairs(("사과", "apple"), ("바나나", "banana"), ("포도", "grape"), ("수박", "watermelon")),
            Fraction(1),
        ),
        (
            _pairs(("수박", "watermelon"), ("사과", "apple"), ("포도", "grape"), ("바나나", "banana")),
            Fraction(1),
        ),
        (
            _pairs(("사과", "banana"), ("바나나", "apple"), ("포도", "grape"), ("수박", "watermelon")),
            Fraction(1, 2),
        ),
        (_pairs(("사과", "apple")), Fraction(1, 4)),  # unmatched items count as wrong
        (_pairs(("사과", "APPLE "), ("포도", "Grape.")), Fraction(1, 2)),
        (
            _pairs(("사과", "apple"), ("바나나", "apple")),
            Fraction(1, 4),
        ),  # one right side twice: one is wrong
        ([], Fraction(0)),
    ],
)
def test_matching_gives_credit_per_correct_pair(pairs: list[KeyPair], score: Fraction) -> None:
    assert grade(QuizType.MATCHING, PAIRS, Answer(pairs=pairs)) == score


def test_an_essay_is_not_graded_here() -> None:
    assert grade(QuizType.ESSAY, QuizKey(rubric="Two reasons"), Answer(text="Because.")) is None


@pytest.mark.parametrize(
    ("quiz_type", "key", "answer", "field"),
    [
        (QuizType.MULTIPLE_CHOICE, MC, Answer(boolean=True), "answer.boolean"),
        (QuizType.MULTIPLE_CHOICE, MC, Answer(), "answer.choiceIds"),
        (QuizType.MULTIPLE_CHOICE, MC, Answer(choice_ids=[]), "answer.choiceIds"),
        (QuizType.MULTIPLE_CHOICE, MC, Answer(choice_ids=["a", "a"]), "answer.choiceIds"),
        (QuizType.MULTIPLE_CHOICE, MC, Answer(choice_ids=["a", "zz"]), "answer.choiceIds"),
        (QuizType.MULTIPLE_CHOICE, MC, Answer(choice_ids=["a"], text="Seoul"), "answer.text"),
        (QuizType.TRUE_FALSE, QuizKey(answer_boolean=True), Answer(text="true"), "answer.text"),
        (QuizType.TRUE_FALSE, QuizKey(answer_boolean=True), Answer(), "answer.boolean"),
        (QuizType.SHORT_ANSWER, SHORT, Answer(blanks=["서울"]), "answer.blanks"),
        (QuizType.SHORT_ANSWER, SHORT, Answer(), "answer.text"),
        (QuizType.FILL_BLANK, BLANKS, Answer(blanks=["Hangul", "Sejong"]), "answer.blanks"),
        (QuizType.FILL_BLANK, BLANKS, Answer(blanks=["a", "b", "c", "d"]), "answer.blanks"),
        (QuizType.FILL_BLANK, BLANKS, Answer(text="Hangul Sejong 1443"), "answer.text"),
        (
            QuizType.MATCHING,
            PAIRS,
            Answer(pairs=_pairs(("사과", "apple"), ("사과", "banana"))),
            "answer.pairs",
        ),
        (QuizType.MATCHING, PAIRS, Answer(pairs=_pairs(("딸기", "apple"))), "answer.pairs"),
        (QuizType.MATCHING, PAIRS, Answer(pairs=_pairs(("사과", "strawberry"))), "answer.pairs"),
        (QuizType.MATCHING, PAIRS, Answer(choice_ids=["a"]), "answer.choiceIds"),
        (QuizType.ESSAY, QuizKey(rubric="r"), Answer(boolean=False), "answer.boolean"),
    ],
)
def test_an_answer_of_the_wrong_shape_is_bad_input(
    quiz_type: QuizType, key: QuizKey, answer: Answer, field: str
) -> None:
    with pytest.raises(BadInput) as raised:
        grade(quiz_type, key, answer)
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("points", "score", "earned"),
    [
        (10, Fraction(1), 10),
        (10, Fraction(1, 3), 3),
        (10, Fraction(2, 3), 7),
        (5, Fraction(1, 2), 3),
        (10, 0, 0),
    ],
)
def test_points_are_rounded_half_up(points: int, score: Fraction, earned: int) -> None:
    assert points_earned(points, Fraction(score)) == earned


@pytest.mark.parametrize(
    ("question", "count"),
    [("No blanks", 0), ("___ wrote ___.", 2), ("A long ______ blank", 1), ("Two __ underscores", 0)],
)
def test_blanks_are_runs_of_three_or_more_underscores(question: str, count: int) -> None:
    assert blank_count(question) == count


@pytest.mark.parametrize(
    ("quiz_type", "key", "text"),
    [
        (QuizType.MULTIPLE_CHOICE, MC, "Seoul; Busan; Incheon"),
        (QuizType.TRUE_FALSE, QuizKey(answer_boolean=False), "False"),
        (QuizType.SHORT_ANSWER, SHORT, "서울"),
        (QuizType.FILL_BLANK, BLANKS, "Hangul; Sejong; 1443"),
        (QuizType.MATCHING, PAIRS, "사과 → apple; 바나나 → banana; 포도 → grape; 수박 → watermelon"),
        (QuizType.ESSAY, QuizKey(rubric="secret rubric"), None),
    ],
)
def test_the_correct_answer_in_words(quiz_type: QuizType, key: QuizKey, text: str | None) -> None:
    assert correct_answer(quiz_type, key) == text
