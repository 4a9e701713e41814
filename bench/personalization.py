"""Calibration of the learner model (resolvers/personalization/model.py) on simulated students.

Students of known ability (N(0, 1) logits) answer questions of random difficulty labels; the model
forecasts each answer from the ones before it. Prints, per scenario, the Brier score (with the Brier
score of always forecasting the overall success rate, for comparison) and the expected calibration error
over ten probability bins. Scenarios: the model's own assumptions; questions of a label varying in
difficulty (item noise, sd 0.5 logits); students improving by 0.02 logits per answer.

    uv run python -m bench.personalization --students 2000 --answers 60 --seed 1
"""

import argparse

from resolvers.personalization.calibration import measure, simulate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--answers", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args()
    scenarios = {
        "model assumptions": {},
        "item noise 0.5": {"item_noise": 0.5},
        "learning +0.02/answer": {"learning_rate": 0.02},
    }
    print(f"{'scenario':<24}{'forecasts':>10}{'brier':>9}{'baseline':>10}{'ECE':>8}")
    for name, options in scenarios.items():
        result = measure(
            simulate(students=arguments.students, answers=arguments.answers, seed=arguments.seed, **options)
        )
        print(
            f"{name:<24}{result.forecasts:>10}{result.brier:>9.4f}{result.baseline_brier:>10.4f}"
            f"{result.expected_calibration_error:>8.4f}"
        )


if __name__ == "__main__":
    main()
