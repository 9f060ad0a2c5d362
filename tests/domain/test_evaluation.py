"""Before/after evaluation: statistics checked against hand formulas, one person one vote, honest verdicts."""

import itertools
import math

import pytest
from pydantic import ValidationError

from domain.evaluation import (
    MENTEES_ON_PLAN_SKILLS,
    MENTORS_ON_LEADERSHIP,
    MIN_PAIRED_SAMPLE,
    EffectSize,
    PairedRating,
    effect_size_label,
    evaluate_paired,
)
from domain.metrics import MIN_RESPONDENTS

# A RuntimeWarning from scipy (0/0, precision loss) would mean an edge case slipped past the guards.
pytestmark = pytest.mark.filterwarnings("error")

# Student's t, 4 degrees of freedom, 97.5th percentile (printed tables: 2.776).
T_975_DF4 = 2.7764451051977987


def one_skill_each(*before_after: tuple[int, int]) -> list[PairedRating]:
    return [
        PairedRating(person=f"person{i}@example.com", skill="sql", before=before, after=after)
        for i, (before, after) in enumerate(before_after)
    ]


def two_sided_p_df4(t: float) -> float:
    """Closed form of Student's t CDF for 4 degrees of freedom, so the p-value does not come from scipy."""
    x = t * t / 4
    cdf = 0.5 + 3 / 8 * (t / math.sqrt(1 + x)) * (1 - x / (3 * (1 + x)))
    return 2 * (1 - cdf)


def test_the_paired_t_test_matches_the_hand_formulas() -> None:
    ratings = one_skill_each((2, 3), (1, 3), (3, 4), (4, 4), (2, 4))
    changes = [1, 2, 1, 0, 2]
    n = len(changes)
    mean = sum(changes) / n
    sd = math.sqrt(sum((c - mean) ** 2 for c in changes) / (n - 1))
    t = mean / (sd / math.sqrt(n))

    result = evaluate_paired(MENTEES_ON_PLAN_SKILLS, ratings)

    assert result.enough_data
    assert result.n == 5
    assert (result.mean_before, result.mean_after, result.mean_change) == (2.4, 3.6, 1.2)
    assert result.t_statistic == pytest.approx(round(t, 3))
    assert result.t_statistic == pytest.approx(3.207)
    assert result.p_value == pytest.approx(round(two_sided_p_df4(t), 3))
    assert result.p_value == pytest.approx(0.033)
    assert result.effect_size == pytest.approx(round(mean / sd, 3))
    assert result.effect_label == EffectSize.LARGE
    half_width = T_975_DF4 * sd / math.sqrt(n)
    assert result.ci_low == pytest.approx(round(mean - half_width, 2))
    assert result.ci_high == pytest.approx(round(mean + half_width, 2))
    assert (result.ci_low, result.ci_high) == (0.16, 2.24)
    assert result.wilcoxon_p_value is None  # five changes cannot reach p < 0.05 in a signed-rank test


def test_the_verdict_reads_as_a_sentence_for_the_coordinator() -> None:
    ratings = one_skill_each((2, 3), (1, 3), (3, 4), (4, 4), (2, 4))

    result = evaluate_paired(MENTEES_ON_PLAN_SKILLS, ratings)

    assert result.group == "mentees: their plan skills"
    assert result.verdict == (
        "Mentees rated their plan skills 1.2 points higher after the program "
        "(95% CI 0.16 to 2.24, p = 0.033, large effect); a difference this size is unlikely to be chance."
    )


def test_a_drop_is_reported_as_lower_for_the_mentors_own_group() -> None:
    ratings = one_skill_each((3, 2), (4, 3), (3, 3), (5, 3), (4, 3))

    result = evaluate_paired(MENTORS_ON_LEADERSHIP, ratings)

    assert result.group == "mentors: their leadership skills"
    assert result.mean_change == -1.0
    assert result.verdict.startswith("Mentors rated their leadership skills 1 point lower after the program (95% CI")


def test_no_change_on_average_is_negligible_and_could_be_chance() -> None:
    ratings = one_skill_each((2, 3), (3, 2), (4, 4), (2, 4), (3, 1))

    result = evaluate_paired(MENTEES_ON_PLAN_SKILLS, ratings)

    assert result.mean_change == 0.0
    assert result.t_statistic == 0.0
    assert result.p_value == 1.0
    assert result.effect_size == 0.0
    assert result.effect_label == EffectSize.NEGLIGIBLE
    assert result.ci_low is not None
    assert result.ci_high == pytest.approx(-result.ci_low)
    assert result.verdict.startswith("Mentees rated their plan skills the same before and after the program on average")
    assert result.verdict.endswith("(95% CI -1.96 to 1.96, p = 1.000, negligible effect).")


def test_everyone_changing_by_the_same_amount_has_no_spread_to_test() -> None:
    ratings = one_skill_each(*[(2, 3)] * 6)

    result = evaluate_paired(MENTEES_ON_PLAN_SKILLS, ratings)

    assert result.enough_data
    assert (result.mean_before, result.mean_after, result.mean_change) == (2.0, 3.0, 1.0)
    assert result.t_statistic is None
    assert result.p_value is None
    assert result.effect_size is None
    assert result.effect_label is None
    assert result.ci_low is None
    assert result.ci_high is None
    # All six in one direction: exact signed-rank p = 2 / 2**6.
    assert result.wilcoxon_p_value == pytest.approx(round(2 / 2**6, 3))
    assert result.verdict == (
        "Each of the 6 mentees rated their plan skills 1 point higher after the program, on average over their "
        "skills; with no variation between people there is no test or interval to report."
    )


def test_nobody_changing_at_all_does_not_crash_any_test() -> None:
    ratings = one_skill_each(*[(3, 3)] * 8)

    result = evaluate_paired(MENTEES_ON_PLAN_SKILLS, ratings)

    assert result.enough_data
    assert result.mean_change == 0.0
    assert result.p_value is None
    assert result.wilcoxon_p_value is None  # every change is zero, so no signed ranks are left
    assert result.verdict == (
        "Each of the 8 mentees rated their plan skills the same before and after the program, "
        "on average over their skills."
    )


@pytest.mark.parametrize("people", [0, 1, MIN_PAIRED_SAMPLE - 1])
def test_below_the_minimum_sample_nothing_is_reported(people: int) -> None:
    ratings = one_skill_each(*[(2, 4)] * people)

    result = evaluate_paired(MENTEES_ON_PLAN_SKILLS, ratings)

    assert not result.enough_data
    assert result.n == people
    statistics = result.model_dump(exclude={"group", "n", "enough_data", "verdict"})
    assert set(statistics.values()) == {None}
    answered = "1 person" if people == 1 else f"{people} people"
    assert result.verdict == f"Not enough data: {answered} answered, at least {MIN_PAIRED_SAMPLE} are needed."


def test_the_minimum_sample_respects_the_privacy_floor() -> None:
    assert MIN_PAIRED_SAMPLE >= MIN_RESPONDENTS


def test_many_ratings_from_few_people_are_still_too_few() -> None:
    skills = [f"skill{k}" for k in range(10)]
    ratings = [PairedRating(person=f"p{i}", skill=s, before=2, after=4) for i in range(3) for s in skills]

    result = evaluate_paired(MENTEES_ON_PLAN_SKILLS, ratings)

    assert not result.enough_data
    assert result.n == 3


def test_a_person_with_many_skills_counts_once() -> None:
    keen = [PairedRating(person="keen", skill=f"skill{k}", before=1, after=5) for k in range(10)]
    others = one_skill_each((3, 3), (3, 4), (3, 3), (4, 3))
    keen_once = [PairedRating(person="keen", skill="skill0", before=1, after=5)]

    result = evaluate_paired(MENTEES_ON_PLAN_SKILLS, keen + others)

    assert result.n == 5
    assert result.mean_change == pytest.approx((4 + 0 + 1 + 0 - 1) / 5)  # per rating it would be 40 / 14
    assert result == evaluate_paired(MENTEES_ON_PLAN_SKILLS, keen_once + others)


def test_a_person_s_change_is_the_mean_over_their_skills() -> None:
    mixed = [
        PairedRating(person="mixed", skill="sql", before=2, after=4),
        PairedRating(person="mixed", skill="git", before=3, after=3),
        PairedRating(person="mixed", skill="figma", before=4, after=3),
    ]
    others = one_skill_each((2, 3), (2, 3), (2, 3), (2, 3))

    result = evaluate_paired(MENTEES_ON_PLAN_SKILLS, mixed + others)

    assert result.mean_before == pytest.approx(round((3 + 2 * 4) / 5, 2))
    assert result.mean_change == pytest.approx(round((1 / 3 + 4) / 5, 2))


def test_a_small_uneven_rise_is_said_to_be_possibly_chance() -> None:
    ratings = one_skill_each((2, 3), (3, 2), (2, 4), (3, 3), (3, 3))

    result = evaluate_paired(MENTEES_ON_PLAN_SKILLS, ratings)

    assert result.p_value is not None
    assert result.p_value > 0.05
    assert result.verdict.startswith("Mentees rated their plan skills 0.4 points higher after the program (95% CI")
    assert result.verdict.endswith("small effect); this could be chance.")


def test_the_signed_rank_p_value_matches_an_exact_enumeration() -> None:
    # Changes 0.5, -1, 1.5, 2, 3, 4: distinct in size, so the exact null distribution applies.
    ratings = [
        PairedRating(person="a", skill="sql", before=2, after=3),
        PairedRating(person="a", skill="git", before=2, after=2),
        PairedRating(person="b", skill="sql", before=3, after=2),
        PairedRating(person="c", skill="sql", before=2, after=3),
        PairedRating(person="c", skill="git", before=2, after=4),
        PairedRating(person="d", skill="sql", before=2, after=4),
        PairedRating(person="e", skill="sql", before=1, after=4),
        PairedRating(person="f", skill="sql", before=1, after=5),
    ]
    ranks = range(1, 7)
    observed = min(2, sum(ranks) - 2)  # the -1 change has rank 2
    as_extreme = sum(
        1
        for signs in itertools.product([0, 1], repeat=6)
        if sum(r for r, s in zip(ranks, signs, strict=True) if s) <= observed
    )

    result = evaluate_paired(MENTEES_ON_PLAN_SKILLS, ratings)

    assert result.wilcoxon_p_value == pytest.approx(round(2 * as_extreme / 2**6, 3))
    assert result.wilcoxon_p_value == pytest.approx(0.094)


@pytest.mark.parametrize(
    ("d", "label"),
    [
        (0.0, EffectSize.NEGLIGIBLE),
        (0.19, EffectSize.NEGLIGIBLE),
        (0.2, EffectSize.SMALL),
        (-0.49, EffectSize.SMALL),
        (0.5, EffectSize.MEDIUM),
        (0.79, EffectSize.MEDIUM),
        (0.8, EffectSize.LARGE),
        (-2.5, EffectSize.LARGE),
    ],
)
def test_effect_sizes_follow_cohen_s_thresholds(d: float, label: EffectSize) -> None:
    assert effect_size_label(d) == label


@pytest.mark.parametrize(("before", "after"), [(0, 3), (3, 6)])
def test_ratings_outside_one_to_five_are_refused(before: int, after: int) -> None:
    with pytest.raises(ValidationError):
        PairedRating(person="p", skill="sql", before=before, after=after)


def test_rating_the_same_skill_twice_is_refused_rather_than_weighed_double() -> None:
    ratings = one_skill_each((2, 3), (2, 3), (2, 3), (2, 3), (2, 3))
    ratings.append(PairedRating(person="person0@example.com", skill="sql", before=1, after=5))

    with pytest.raises(ValueError, match="rated 'sql' twice"):
        evaluate_paired(MENTEES_ON_PLAN_SKILLS, ratings)
