"""The learner model: pure functions, no I/O.

**Ability.** A one-parameter logistic (Rasch) model: a student of ability theta answers a question of
difficulty label D correctly with probability sigmoid(theta - b_D). Each label has a fixed b; the gap between
neighbours is logit(0.85) - logit(0.70) ≈ 0.89 logits, so whenever the student succeeds at least 70 %
of the time at some level but not at the next one up, they succeed at most 85 % of the time there:
`level` (the highest label with predicted success ≥ 70 %) is the difficulty answered correctly about
70-85 % of the time.

theta is not a point value but a Gaussian belief (mean, variance), updated after every graded answer by one
step of the Laplace / extended-Kalman approximation of Bayes' rule for a logistic observation (as in
Glicko or TrueSkill-style Elo): the gain shrinks as evidence accumulates, so early answers move the
estimate a lot and later ones less. A small DRIFT is added to the variance before each answer, so the
estimate keeps following a student who learns or forgets. A partial score s in [0, 1] is a fractional
outcome: the update uses s in place of 0/1 (the gradient of the Bernoulli log-likelihood is s - p).

Predictions integrate over the belief with the probit approximation, sigmoid(mu / sqrt(1 + pi v/8)):
while little is known, forecasts stay near 50 %, which is what keeps them calibrated early on.

**Mastery** (0-1) is the predicted probability of answering a MEDIUM question correctly now.

**Topics.** A topic's belief starts from the subject's current mean (with the prior variance), so a
student strong in a subject is not assumed to know nothing of a topic they meet for the first time.

**Learning style** is an observed preference, not a diagnosis: the share of the user's engagement that is
reading (summaries read) versus doing (quiz answers). At least PREFERENCE_SHARE of it on one side is
READING or KINESTHETIC, anything more even is MIXED. VISUAL and AUDITORY are never inferred: nothing in
the activity log shows how a student takes in pictures or sound. Learning-session minutes are not
evidence either: a session is a timed container for reading and answering, which are counted already.
Confidence is n / (n + STYLE_EVIDENCE_HALF) — how much evidence there is — times how clear the
preference is; with no evidence the style is MIXED with confidence 0.
"""

import math
from dataclasses import dataclass
from enum import StrEnum

from models.study import Difficulty


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1 / (1 + math.exp(-x))
    z = math.exp(x)
    return z / (1 + z)


def logit(p: float) -> float:
    return math.log(p / (1 - p))


LEVEL_LOW = 0.70
LEVEL_HIGH = 0.85
LEVEL_STEP = logit(LEVEL_HIGH) - logit(LEVEL_LOW)
LEVELS = (Difficulty.EASY, Difficulty.MEDIUM, Difficulty.HARD)
DIFFICULTY_B = {Difficulty.EASY: -LEVEL_STEP, Difficulty.MEDIUM: 0.0, Difficulty.HARD: LEVEL_STEP}
# The prior belief about a student nobody has seen answer: abilities spread about one logit around MEDIUM.
PRIOR_MEAN = 0.0
PRIOR_VARIANCE = 1.0
# Variance added before every answer, so the estimate can follow a student whose ability changes: at
# steady state the gain stays near sqrt(DRIFT / (p(1 - p))) ≈ 0.3 logits per unit of surprise.
DRIFT = 0.02
# Beliefs never get more certain than this (nor less than the prior): guards against rounding drift.
MIN_VARIANCE = 0.01


@dataclass(frozen=True)
class Belief:
    mean: float = PRIOR_MEAN
    variance: float = PRIOR_VARIANCE
    answered: int = 0


def predict(belief: Belief, difficulty: Difficulty) -> float:
    """The probability of a correct answer to a question of `difficulty`, the uncertainty integrated."""
    scale = math.sqrt(1 + math.pi * belief.variance / 8)
    return sigmoid((belief.mean - DIFFICULTY_B[difficulty]) / scale)


def update(belief: Belief, difficulty: Difficulty, score: float) -> Belief:
    """The belief after an answer to a question of `difficulty` graded `score` (0 to 1)."""
    if not 0 <= score <= 1:
        raise ValueError("score must be between 0 and 1")
    prior_variance = min(PRIOR_VARIANCE, belief.variance + DRIFT)
    p = sigmoid(belief.mean - DIFFICULTY_B[difficulty])
    variance = max(MIN_VARIANCE, 1 / (1 / prior_variance + p * (1 - p)))
    return Belief(mean=belief.mean + variance * (score - p), variance=variance, answered=belief.answered + 1)


def topic_prior(subject: Belief) -> Belief:
    return Belief(mean=subject.mean, variance=PRIOR_VARIANCE, answered=0)


def mastery(belief: Belief) -> float:
    return predict(belief, Difficulty.MEDIUM)


def level(belief: Belief) -> Difficulty:
    """The hardest difficulty answered correctly at least LEVEL_LOW of the time; EASY when none is."""
    fitting = [difficulty for difficulty in LEVELS if predict(belief, difficulty) >= LEVEL_LOW]
    return fitting[-1] if fitting else Difficulty.EASY


class LearningStyle(StrEnum):
    VISUAL = "VISUAL"
    AUDITORY = "AUDITORY"
    KINESTHETIC = "KINESTHETIC"
    READING = "READING"
    MIXED = "MIXED"


PREFERENCE_SHARE = 0.6
STYLE_EVIDENCE_HALF = 10


@dataclass(frozen=True)
class StyleEstimate:
    style: LearningStyle
    confidence: float
    evidence: int


def learning_style(summaries_read: int, quizzes_answered: int) -> StyleEstimate:
    evidence = summaries_read + quizzes_answered
    if evidence == 0:
        return StyleEstimate(LearningStyle.MIXED, 0.0, 0)
    amount = evidence / (evidence + STYLE_EVIDENCE_HALF)
    reading_share = summaries_read / evidence
    dominant = max(reading_share, 1 - reading_share)
    # How far the larger share is above an even split, 0 (even) to 1 (all one kind).
    margin = 2 * dominant - 1
    if dominant < PREFERENCE_SHARE:
        # MIXED is itself a preference: the more even the split, the clearer it is.
        return StyleEstimate(
            LearningStyle.MIXED, amount * (1 - margin / (2 * PREFERENCE_SHARE - 1)), evidence
        )
    style = LearningStyle.READING if reading_share > 0.5 else LearningStyle.KINESTHETIC
    return StyleEstimate(style, amount * margin, evidence)
