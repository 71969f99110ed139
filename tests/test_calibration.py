"""Confidence that means what it says: temperature scaling and the "not sure" threshold."""

import numpy as np

from digitlab.calibration import best_digit, calibrated, fit_temperature, flag_threshold, is_uncertain


def test_temperature_scaling_recovers_an_overconfident_models_temperature():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 4000)
    true_logits = rng.normal(0, 1, (4000, 10))
    true_logits[np.arange(4000), labels] += 2.0
    # Sample labels from the true probabilities, then show the model's logits 3x too sharp.
    probabilities = calibrated(true_logits)
    drawn = np.array([rng.choice(10, p=p) for p in probabilities])
    temperature = fit_temperature(3.0 * true_logits, drawn)
    assert abs(temperature - 3.0) < 0.3


def test_the_threshold_flags_the_asked_share_of_correct_answers():
    rng = np.random.default_rng(1)
    probabilities = calibrated(rng.normal(0, 2, (2000, 11)))
    labels = probabilities.argmax(1)  # every answer correct
    labels[labels == 10] = 0
    threshold = flag_threshold(probabilities, labels, 0.05, reject_class=10)
    confidence = probabilities[np.arange(2000), best_digit(probabilities, 10)]
    correct = best_digit(probabilities, 10) == labels
    assert abs((confidence[correct] < threshold).mean() - 0.05) < 0.01


def test_an_image_more_likely_no_digit_is_flagged_even_when_its_best_digit_is_confident():
    p = np.array([[0.0] * 3 + [0.45] + [0.0] * 6 + [0.55],   # "not a digit" wins: flagged
                  [0.0] * 3 + [0.9] + [0.0] * 6 + [0.1],     # a confident 3
                  [0.0] * 3 + [0.4] + [0.3] + [0.0] * 5 + [0.3]])  # an unsure 3
    assert list(is_uncertain(p, threshold=0.42, reject_class=10)) == [True, False, True]
    assert list(best_digit(p, 10)) == [3, 3, 3]
