"""Measuring the learner model on simulated students whose true ability is known (pure, no I/O).

Each simulated student has a true ability drawn from N(0, 1) (optionally changing by `learning_rate`
logits per answer) and answers questions of random difficulty labels; a question's true difficulty is
its label's b plus N(0, `item_noise`²) (real questions within a label are not all equally hard). Before
each answer the model predicts the success probability from what it has seen; the prediction and the
outcome are collected, then the answer updates the belief — the order the app uses them in.
"""

import random
from dataclasses import dataclass

from resolvers.personalization.model import DIFFICULTY_B, LEVELS, Belief, predict, sigmoid, update


@dataclass(frozen=True)
class Calibration:
    forecasts: int
    brier: float
    # The mean over equal-width probability bins of |mean forecast - observed rate|, weighted by size.
    expected_calibration_error: float
    # The Brier score of always forecasting the overall observed rate: what "no model" scores.
    baseline_brier: float


def simulate(
    *,
    students: int,
    answers: int,
    seed: int,
    item_noise: float = 0.0,
    learning_rate: float = 0.0,
) -> list[tuple[float, int]]:
    """(forecast, outcome) pairs, one per simulated answer."""
    rng = random.Random(seed)
    pairs: list[tuple[float, int]] = []
    for _ in range(students):
        ability = rng.gauss(0, 1)
        belief = Belief()
        for _ in range(answers):
            difficulty = rng.choice(LEVELS)
            true_b = DIFFICULTY_B[difficulty] + rng.gauss(0, item_noise)
            outcome = int(rng.random() < sigmoid(ability - true_b))
            pairs.append((predict(belief, difficulty), outcome))
            belief = update(belief, difficulty, float(outcome))
            ability += learning_rate
    return pairs


def measure(pairs: list[tuple[float, int]], bins: int = 10) -> Calibration:
    count = len(pairs)
    brier = sum((p - y) ** 2 for p, y in pairs) / count
    rate = sum(y for _, y in pairs) / count
    baseline = sum((rate - y) ** 2 for _, y in pairs) / count
    grouped: list[list[tuple[float, int]]] = [[] for _ in range(bins)]
    for p, y in pairs:
        grouped[min(bins - 1, int(p * bins))].append((p, y))
    error = sum(
        len(group) * abs(sum(p for p, _ in group) / len(group) - sum(y for _, y in group) / len(group))
        for group in grouped
        if group
    )
    return Calibration(
        forecasts=count, brier=brier, expected_calibration_error=error / count, baseline_brier=baseline
    )
