"""Did the program prove its value? Paired before/after self-ratings, tested person by person.

At close-out each mentee rates the skills in their plan, and each mentor their leadership skills, as they were
before the program and as they are now (1-5). This module turns those pairs into a result a coordinator can read.

Honest about dependence: one person's ratings of several skills are not independent (someone generous with
themselves is generous on every skill), so the unit of analysis is the person, not the rating. Each person's
change is the mean of their after-minus-before over their skills, and every statistic is computed over those
per-person changes: a person with eight skills counts once, like a person with one.

Honest about what it shows: these are self-ratings given at the same moment with no comparison group, so a
positive result means people *feel* they improved; it does not prove the program caused it.
"""

from collections import defaultdict
from collections.abc import Sequence
from enum import StrEnum
from statistics import fmean, stdev
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from domain.metrics import MIN_RESPONDENTS

# Five people, not the privacy floor of three: with n people the 95% interval of the mean change is
# mean ± t(0.975, n-1) · sd / √n. At three that is ± 2.48 sd (2 degrees of freedom), wide enough to cover most
# of a 1-5 scale whatever happened; at five it is ± 1.24 sd, narrow enough to say something on that scale.
# `max` keeps the k-anonymity rule (never fewer than MIN_RESPONDENTS) true by construction.
MIN_PAIRED_SAMPLE = max(5, MIN_RESPONDENTS)

# The signed-rank test drops people whose change is exactly zero. With fewer than six changes left, even the
# most lopsided outcome (all in one direction) has an exact two-sided p of 2/2⁵ = 0.0625, so it could never
# flag anything; below six it is not reported.
MIN_SIGNED_RANK_CHANGES = 6

CONFIDENCE = 0.95
SIGNIFICANCE = 0.05


class PairedRating(BaseModel):
    """One person's self-rating of one skill, before the program and after it."""

    model_config = ConfigDict(frozen=True)

    person: str
    skill: str
    before: int = Field(ge=1, le=5)
    after: int = Field(ge=1, le=5)


class RatedGroup(BaseModel):
    """Who rated themselves, and on what, in words a verdict can use."""

    model_config = ConfigDict(frozen=True)

    who: str  # plural, lower case: "mentees"
    skills: str  # what they rated, as it reads after "rated": "their plan skills"

    @property
    def label(self) -> str:
        return f"{self.who}: {self.skills}"


MENTEES_ON_PLAN_SKILLS = RatedGroup(who="mentees", skills="their plan skills")
MENTORS_ON_LEADERSHIP = RatedGroup(who="mentors", skills="their leadership skills")


class EffectSize(StrEnum):
    """Cohen's conventions for |d|: below 0.2 negligible, from 0.2 small, from 0.5 medium, from 0.8 large.

    Cohen set them for differences between groups; applied to d_z (paired) they are the usual rule of thumb,
    and d_z runs larger than a between-group d when people's before and after ratings move together.
    """

    NEGLIGIBLE = "negligible"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


def effect_size_label(d: float) -> EffectSize:
    size = abs(d)
    if size < 0.2:
        return EffectSize.NEGLIGIBLE
    if size < 0.5:
        return EffectSize.SMALL
    if size < 0.8:
        return EffectSize.MEDIUM
    return EffectSize.LARGE


class PairedEvaluation(BaseModel):
    """The before/after result for one group; n and every statistic count people, not ratings.

    Statistics are None when fewer than MIN_PAIRED_SAMPLE people answered. With enough people but every person
    changing by exactly the same amount, the means stand but the t-test, effect size and interval are None:
    they divide by the spread between people, and there is none.
    """

    model_config = ConfigDict(frozen=True)

    group: str
    n: int
    enough_data: bool
    mean_before: float | None = None
    mean_after: float | None = None
    mean_change: float | None = None
    t_statistic: float | None = None  # paired t-test on per-person means, n - 1 degrees of freedom
    p_value: float | None = None  # of the t-test, two-sided
    wilcoxon_p_value: float | None = None  # signed-rank robustness check, when enough people changed at all
    effect_size: float | None = None  # Cohen's d_z: mean change / sd of the per-person changes
    effect_label: EffectSize | None = None
    ci_low: float | None = None  # 95% confidence interval of the mean change (t distribution)
    ci_high: float | None = None
    verdict: str


class _PersonMeans(NamedTuple):
    before: float
    after: float
    change: float


def _per_person(ratings: Sequence[PairedRating]) -> list[_PersonMeans]:
    """Collapse each person's skills into one before, one after and one change, so each person counts once."""
    by_person: dict[str, list[PairedRating]] = defaultdict(list)
    for rating in ratings:
        if any(r.skill == rating.skill for r in by_person[rating.person]):
            raise ValueError(f"{rating.person} rated {rating.skill!r} twice; give one rating per person and skill")
        by_person[rating.person].append(rating)
    # Dividing an integer sum gives the same float for the same fraction, so equal changes compare equal.
    return [
        _PersonMeans(
            before=sum(r.before for r in rs) / len(rs),
            after=sum(r.after for r in rs) / len(rs),
            change=sum(r.after - r.before for r in rs) / len(rs),
        )
        for rs in by_person.values()
    ]


def _signed_rank_p(changes: list[float]) -> float | None:
    from scipy import stats  # here, not at the top: SciPy's statistics take half a second to load

    if sum(1 for c in changes if c != 0) < MIN_SIGNED_RANK_CHANGES:
        return None
    return round(float(stats.wilcoxon(changes, zero_method="wilcox").pvalue), 3)


def _people(n: int) -> str:
    return "1 person" if n == 1 else f"{n} people"


def _points(value: float) -> str:
    """1.2 -> "1.2 points", 1.0 -> "1 point", 0.04 -> "0.04 points"."""
    text = f"{abs(value):.2f}".rstrip("0").rstrip(".")
    return f"{text} point" if text == "1" else f"{text} points"


def _number(value: float) -> str:
    """Two decimals without trailing zeros; adding 0.0 turns a rounded -0.0 into 0."""
    return f"{value + 0.0:.2f}".rstrip("0").rstrip(".")


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _shift(group: RatedGroup, change: float) -> str:
    who = group.who.capitalize()
    if change == 0:
        return f"{who} rated {group.skills} the same before and after the program on average"
    direction = "higher" if change > 0 else "lower"
    return f"{who} rated {group.skills} {_points(change)} {direction} after the program"


def _chance(shown_change: float, p_value: float) -> str:
    """Say in words what the p-value means; when no difference is shown there is nothing to attribute."""
    if shown_change == 0:
        return ""
    return "; a difference this size is unlikely to be chance" if p_value < SIGNIFICANCE else "; this could be chance"


def _not_enough(group: RatedGroup, n: int) -> PairedEvaluation:
    verdict = f"Not enough data: {_people(n)} answered, at least {MIN_PAIRED_SAMPLE} are needed."
    return PairedEvaluation(group=group.label, n=n, enough_data=False, verdict=verdict)


def _no_spread(group: RatedGroup, people: list[_PersonMeans], wilcoxon_p: float | None) -> PairedEvaluation:
    change = people[0].change
    each = f"Each of the {len(people)} {group.who} rated {group.skills}"
    if change == 0:
        verdict = f"{each} the same before and after the program, on average over their skills."
    else:
        direction = "higher" if change > 0 else "lower"
        verdict = (
            f"{each} {_points(change)} {direction} after the program, on average over their skills; "
            "with no variation between people there is no test or interval to report."
        )
    return PairedEvaluation(
        group=group.label,
        n=len(people),
        enough_data=True,
        mean_before=round(fmean(p.before for p in people), 2),
        mean_after=round(fmean(p.after for p in people), 2),
        mean_change=round(change, 2),
        wilcoxon_p_value=wilcoxon_p,
        verdict=verdict,
    )


def evaluate_paired(group: RatedGroup, ratings: Sequence[PairedRating]) -> PairedEvaluation:
    """Test whether a group rated itself differently after the program, one person one vote.

    The paired t-test on per-person means answers "did the average person change?"; the signed-rank p-value is
    there to check that answer does not hinge on one person's extreme change. Raises ValueError when a person
    rated the same skill twice, because a duplicate would silently weigh that skill double.
    """
    people = _per_person(ratings)
    n = len(people)
    if n < MIN_PAIRED_SAMPLE:
        return _not_enough(group, n)
    changes = [p.change for p in people]
    wilcoxon_p = _signed_rank_p(changes)
    if len(set(changes)) == 1:
        return _no_spread(group, people, wilcoxon_p)

    from scipy import stats  # only when there is a test to run (see _signed_rank_p)

    test = stats.ttest_rel([p.after for p in people], [p.before for p in people])
    interval = test.confidence_interval(confidence_level=CONFIDENCE)
    mean_change = fmean(changes)
    d_z = mean_change / stdev(changes)
    p_value = float(test.pvalue)
    ci_low, ci_high = round(float(interval.low), 2), round(float(interval.high), 2)
    label = effect_size_label(d_z)
    shown_change = round(mean_change, 2)
    verdict = (
        f"{_shift(group, shown_change)} "
        f"({CONFIDENCE:.0%} CI {_number(ci_low)} to {_number(ci_high)}, {_p_text(p_value)}, {label} effect)"
        f"{_chance(shown_change, p_value)}."
    )
    return PairedEvaluation(
        group=group.label,
        n=n,
        enough_data=True,
        mean_before=round(fmean(p.before for p in people), 2),
        mean_after=round(fmean(p.after for p in people), 2),
        mean_change=round(mean_change, 2),
        t_statistic=round(float(test.statistic), 3),
        p_value=round(p_value, 3),
        wilcoxon_p_value=wilcoxon_p,
        effect_size=round(d_z, 3),
        effect_label=label,
        ci_low=ci_low,
        ci_high=ci_high,
        verdict=verdict,
    )
