"""Grading: from a quiz's type, its answer key and an answer to a score from 0 to 1. Pure, no I/O.

Scores are exact fractions (a third of a multiple-choice question is 1/3, not 0.333…), so
`correct` (score = 1) and the points never suffer from float rounding. Text answers are compared in
their `normalize`d form. An answer whose shape does not fit the quiz's type is BadInput naming the
field, before anything is graded.
"""

import math
import re
import unicodedata
from collections.abc import Iterable
from fractions import Fraction

from core.errors import BadInput
from models.quizzes import Answer, QuizKey, QuizType

# A blank in a FILL_BLANK question: three or more underscores.
BLANK = re.compile(r"_{3,}")

# The answer fields each type reads; any other field given is a wrong shape.
_ANSWER_FIELDS: dict[QuizType, str] = {
    QuizType.MULTIPLE_CHOICE: "choice_ids",
    QuizType.TRUE_FALSE: "boolean",
    QuizType.SHORT_ANSWER: "text",
    QuizType.FILL_BLANK: "blanks",
    QuizType.MATCHING: "pairs",
    QuizType.ESSAY: "text",
}
_GRAPHQL_NAMES = {
    "choice_ids": "answer.choiceIds",
    "boolean": "answer.boolean",
    "text": "answer.text",
    "blanks": "answer.blanks",
    "pairs": "answer.pairs",
}


def blank_count(question: str) -> int:
    return len(BLANK.findall(question))


def normalize(value: str) -> str:
    """The form text answers are compared in: Unicode NFKC (full-width letters and digits become their
    ASCII forms), case-folded, whitespace trimmed and collapsed to single spaces, trailing punctuation
    removed."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
    collapsed = " ".join(folded.split())
    end = len(collapsed)
    while end and (collapsed[end - 1].isspace() or unicodedata.category(collapsed[end - 1]).startswith("P")):
        end -= 1
    return collapsed[:end]


def points_earned(points: int, score: Fraction) -> int:
    """round(points * score), halves rounded up (Python's round() would send 2.5 to 2)."""
    return math.floor(points * score + Fraction(1, 2))


def grade(quiz_type: QuizType, key: QuizKey, answer: Answer) -> Fraction | None:
    """The answer's score from 0 to 1, or None for an essay (graded later, by AI or by its author)."""
    _check_fields(quiz_type, answer)
    if quiz_type is QuizType.MULTIPLE_CHOICE:
        return _multiple_choice(key, answer)
    if quiz_type is QuizType.TRUE_FALSE:
        assert answer.boolean is not None
        return Fraction(int(answer.boolean == key.answer_boolean))
    if quiz_type is QuizType.SHORT_ANSWER:
        assert answer.text is not None
        return Fraction(int(_accepted(answer.text, key.accepted_answers or [])))
    if quiz_type is QuizType.FILL_BLANK:
        return _fill_blank(key, answer)
    if quiz_type is QuizType.MATCHING:
        return _matching(key, answer)
    return None


def correct_answer(quiz_type: QuizType, key: QuizKey) -> str | None:
    """The key in words, for the result of an answer; None for an essay (its rubric stays private)."""
    if quiz_type is QuizType.MULTIPLE_CHOICE:
        return "; ".join(choice.text for choice in key.choices or [] if choice.correct)
    if quiz_type is QuizType.TRUE_FALSE:
        return "True" if key.answer_boolean else "False"
    if quiz_type is QuizType.SHORT_ANSWER:
        return (key.accepted_answers or [""])[0]
    if quiz_type is QuizType.FILL_BLANK:
        return "; ".join(answers[0] for answers in key.blank_answers or [])
    if quiz_type is QuizType.MATCHING:
        return "; ".join(f"{pair.left} → {pair.right}" for pair in key.pairs or [])
    return None


def _check_fields(quiz_type: QuizType, answer: Answer) -> None:
    expected = _ANSWER_FIELDS[quiz_type]
    given = answer.model_dump(exclude_none=True)
    for field in given:
        if field != expected:
            raise BadInput(
                f"A {quiz_type.value} answer has no {_GRAPHQL_NAMES[field]}", field=_GRAPHQL_NAMES[field]
            )
    if expected not in given:
        raise BadInput(
            f"A {quiz_type.value} answer needs {_GRAPHQL_NAMES[expected]}", field=_GRAPHQL_NAMES[expected]
        )


def _accepted(text: str, accepted: Iterable[str]) -> bool:
    return normalize(text) in {normalize(answer) for answer in accepted}


def _multiple_choice(key: QuizKey, answer: Answer) -> Fraction:
    """+1/k for each correct choice chosen and -1/k for each wrong one (k correct choices), at least 0."""
    chosen = answer.choice_ids or []
    if not chosen:
        raise BadInput("Choose at least one choice", field="answer.choiceIds")
    if len(set(chosen)) != len(chosen):
        raise BadInput("A choice is chosen once", field="answer.choiceIds")
    correctness = {choice.id: choice.correct for choice in key.choices or []}
    if any(choice_id not in correctness for choice_id in chosen):
        raise BadInput("Not a choice of this quiz", field="answer.choiceIds")
    k = sum(correctness.values())
    right = sum(1 for choice_id in chosen if correctness[choice_id])
    wrong = len(chosen) - right
    return max(Fraction(0), Fraction(right - wrong, k))


def _fill_blank(key: QuizKey, answer: Answer) -> Fraction:
    blanks = key.blank_answers or []
    given = answer.blanks or []
    if len(given) != len(blanks):
        raise BadInput(f"Answer all {len(blanks)} blanks, in order", field="answer.blanks")
    right = sum(1 for text, accepted in zip(given, blanks, strict=True) if _accepted(text, accepted))
    return Fraction(right, len(blanks))


def _matching(key: QuizKey, answer: Answer) -> Fraction:
    """Per pair of the key: right when the answer matches its left side to its right side."""
    expected = {normalize(pair.left): normalize(pair.right) for pair in key.pairs or []}
    rights = set(expected.values())
    matched: dict[str, str] = {}
    for pair in answer.pairs or []:
        left, right = normalize(pair.left), normalize(pair.right)
        if left not in expected or right not in rights:
            raise BadInput("Match the quiz's own items", field="answer.pairs")
        if left in matched:
            raise BadInput("Each item is matched once", field="answer.pairs")
        matched[left] = right
    right_pairs = sum(1 for left, right in matched.items() if expected[left] == right)
    return Fraction(right_pairs, len(expected))
