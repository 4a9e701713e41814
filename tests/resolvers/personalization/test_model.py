"""The learner model on its own: calibrated on simulated students of known ability, mastery following
answers both ways, levels in the 70-85 % band, and learning style only from evidence."""

from models.study import Difficulty
from resolvers.personalization import model
from resolvers.personalization.calibration import measure, simulate


def test_forecasts_match_observed_success_rates_on_simulated_students() -> None:
    # Given 400 simulated students of known ability answering 50 questions each (seeded)
    pairs = simulate(students=400, answers=50, seed=20261129)
    # When the forecasts made before each answer are compared with the outcomes
    calibration = measure(pairs)
    # Then they are calibrated overall and within every well-populated probability bin
    assert calibration.expected_calibration_error < 0.02
    assert calibration.brier < calibration.baseline_brier - 0.03
    for low in [n / 10 for n in range(10)]:
        in_bin = [(p, y) for p, y in pairs if low <= p < low + 0.1]
        if len(in_bin) >= 500:
            forecast = sum(p for p, _ in in_bin) / len(in_bin)
            observed = sum(y for _, y in in_bin) / len(in_bin)
            assert abs(forecast - observed) < 0.03, (low, forecast, observed)


def test_calibration_holds_when_questions_of_a_label_differ_in_difficulty() -> None:
    calibration = measure(simulate(students=400, answers=50, seed=7, item_noise=0.5))

    assert calibration.expected_calibration_error < 0.02


def test_mastery_rises_with_right_answers_and_falls_with_wrong_ones() -> None:
    belief = model.Belief()
    masteries = [model.mastery(belief)]
    for _ in range(5):
        belief = model.update(belief, Difficulty.MEDIUM, 1.0)
        masteries.append(model.mastery(belief))
    for _ in range(5):
        belief = model.update(belief, Difficulty.MEDIUM, 0.0)
        masteries.append(model.mastery(belief))

    assert masteries[:6] == sorted(masteries[:6]) and masteries[5] > 0.7
    assert masteries[5:] == sorted(masteries[5:], reverse=True) and masteries[-1] < masteries[5] - 0.2
    assert belief.answered == 10


def test_a_partial_score_moves_the_estimate_between_right_and_wrong() -> None:
    start = model.Belief()
    right, half, wrong = (model.update(start, Difficulty.HARD, score) for score in (1.0, 0.5, 0.0))

    assert wrong.mean < start.mean < half.mean < right.mean


def test_the_level_is_answered_correctly_70_to_85_percent_of_the_time() -> None:
    for mean in [n / 20 for n in range(-60, 61)]:
        belief = model.Belief(mean=mean, variance=0.05)
        level = model.level(belief)
        success = model.predict(belief, level)
        if level is Difficulty.EASY and success < model.LEVEL_LOW:
            continue  # weaker than EASY: EASY is the floor
        if level is Difficulty.HARD and success > model.LEVEL_HIGH:
            continue  # stronger than HARD: HARD is the ceiling
        assert model.LEVEL_LOW <= success <= model.LEVEL_HIGH + 1e-9, (mean, level, success)


def test_a_strong_student_reaches_hard_and_a_weak_one_stays_easy() -> None:
    strong = weak = model.Belief()
    for _ in range(20):
        strong = model.update(strong, Difficulty.HARD, 1.0)
        weak = model.update(weak, Difficulty.EASY, 0.0)

    assert (model.level(strong), model.level(weak)) == (Difficulty.HARD, Difficulty.EASY)


def test_no_evidence_is_mixed_with_no_confidence() -> None:
    assert model.learning_style(0, 0) == model.StyleEstimate(model.LearningStyle.MIXED, 0.0, 0)


def test_a_reading_preference_grows_more_certain_with_evidence() -> None:
    few, many = model.learning_style(4, 1), model.learning_style(40, 10)

    assert (few.style, many.style) == (model.LearningStyle.READING, model.LearningStyle.READING)
    assert 0 < few.confidence < many.confidence < 1
    assert (few.evidence, many.evidence) == (5, 50)


def test_quiz_answers_show_kinesthetic_and_an_even_split_mixed() -> None:
    assert model.learning_style(1, 9).style is model.LearningStyle.KINESTHETIC
    assert model.learning_style(10, 10).style is model.LearningStyle.MIXED
