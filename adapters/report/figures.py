"""How a figure reads, in the report and on the command line: shares in percent, ratings on the 1-5 scale, and
"too few to report" where a group is below the floor. (Apart from the charts, so a listing needs no matplotlib.)"""

from adapters.store.queries import TOO_FEW
from domain.spec import RATE_KPIS, Kpi


def percent(value: float | None) -> str:
    return TOO_FEW if value is None else f"{value:.0%}"


def rating(value: float | None) -> str:
    return TOO_FEW if value is None else f"{value:.2f}".rstrip("0").rstrip(".")


def kpi_value(kpi: str, value: float | None) -> str:
    """A KPI's value as people read it: rates in percent, ratings on the 1-5 scale, skill gain in points."""
    if value is None:
        return TOO_FEW
    if kpi in RATE_KPIS:
        return percent(value)
    if kpi == Kpi.SKILL_GAIN:
        return f"{value:+.2f} points"
    return rating(value)
