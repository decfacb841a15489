"""The dated scenarios of domain.md §9, against the shipped national rules file.

Scenarios 15–20 (duplicates, moving, quotas, windows, cancellation, concurrency) exercise the
booking services and live in test_booking.py, test_credentials.py and test_concurrency.py.
"""

from __future__ import annotations

import datetime as dt

import pytest

from reservations.exceptions import BookingNotOpenYet, NotEligible
from reservations.models import (
    Campaign,
    EligibilityRule,
    IntervalRule,
    Municipality,
    Program,
    Vaccine,
)
from reservations.rules.engine import (
    Decision,
    HistoryDose,
    Person,
    check_dose,
    standard_next_date,
)
from reservations.selectors import rulebook_for

D = dt.date
pytestmark = pytest.mark.django_db


@pytest.fixture
def city(national_rules: None) -> Municipality:
    return Municipality.objects.create(code="452041", name="日南市")


def dose(vaccine: str, number: int, on: dt.date, campaign: str | None = None) -> HistoryDose:
    v = Vaccine.objects.get(code=vaccine)
    return HistoryDose(
        antigen=v.antigen,
        vaccine_id=v.pk,
        dose_number=number,
        on=on,
        campaign_id=Campaign.objects.get(code=campaign).pk if campaign else None,
    )


def decide(
    city: Municipality,
    *,
    born: dt.date,
    campaign: str,
    vaccine: str,
    number: int,
    on: dt.date,
    history: list[HistoryDose] | None = None,
    attested: bool = False,
    reason: str = "",
    booked_on: dt.date | None = None,
) -> Decision:
    camp = Campaign.objects.select_related("program").get(code=campaign)
    vac = Vaccine.objects.get(code=vaccine)
    return check_dose(
        person=Person(birth_date=born, municipality_id=city.pk, high_risk_attested=attested),
        campaign=camp,
        vaccine=vac,
        dose_number=number,
        on=on,
        booked_on=booked_on or on,
        history=history or [],
        rules=rulebook_for(municipality_id=city.pk, campaign=camp, antigen=vac.antigen),
        override_reason=reason,
    )


ADULT = D(1980, 1, 1)
PRIMARY = "covid-2021-primary"


def test_it_scenario_01_pfizer_day_19(city: Municipality) -> None:
    history = [dose("pfizer-12", 1, D(2021, 6, 3), PRIMARY)]
    with pytest.raises(NotEligible) as refused:
        decide(
            city,
            born=ADULT,
            campaign=PRIMARY,
            vaccine="pfizer-12",
            number=2,
            on=D(2021, 6, 21),
            history=history,
        )
    assert refused.value.rule_code == "covid.pfizer12.d2.min"
    assert refused.value.earliest_date == D(2021, 6, 22)
    passed = decide(
        city,
        born=ADULT,
        campaign=PRIMARY,
        vaccine="pfizer-12",
        number=2,
        on=D(2021, 6, 22),
        history=history,
    )
    assert passed.standard_date == D(2021, 6, 24)
    assert [w["rule"] for w in passed.warnings] == ["covid.pfizer12.d2.std"]


def test_it_scenario_02_moderna_national_rule(city: Municipality) -> None:
    history = [dose("moderna", 1, D(2021, 7, 1), PRIMARY)]
    with pytest.raises(NotEligible) as refused:
        decide(
            city,
            born=ADULT,
            campaign=PRIMARY,
            vaccine="moderna",
            number=2,
            on=D(2021, 7, 21),
            history=history,
        )
    assert refused.value.earliest_date == D(2021, 7, 22)
    passed = decide(
        city,
        born=ADULT,
        campaign=PRIMARY,
        vaccine="moderna",
        number=2,
        on=D(2021, 7, 22),
        history=history,
    )
    assert passed.warnings
    camp = Campaign.objects.get(code=PRIMARY)
    rules = rulebook_for(municipality_id=city.pk, campaign=camp, antigen="covid19")
    assert standard_next_date(
        vaccine=Vaccine.objects.get(code="moderna"),
        dose_number=2,
        previous_on=D(2021, 7, 1),
        municipality_id=city.pk,
        rules=rules,
    ) == D(2021, 7, 29)


def test_it_scenario_03_municipality_enforces_the_standard_interval(city: Municipality) -> None:
    IntervalRule.objects.create(
        code="nichinan.moderna.d2.standard-enforced",
        municipality=city,
        antigen="covid19",
        vaccine=Vaccine.objects.get(code="moderna"),
        dose_number_min=2,
        dose_number_max=2,
        reference=IntervalRule.Reference.PREVIOUS_DOSE,
        amount=27,
        unit=IntervalRule.Unit.DAYS_GAP,
        strength=IntervalRule.Strength.HARD_MIN,
        effective_from=D(2021, 5, 24),
    )
    history = [dose("moderna", 1, D(2021, 7, 1), PRIMARY)]
    with pytest.raises(NotEligible) as refused:
        decide(
            city,
            born=ADULT,
            campaign=PRIMARY,
            vaccine="moderna",
            number=2,
            on=D(2021, 7, 28),
            history=history,
        )
    assert refused.value.rule_code == "nichinan.moderna.d2.standard-enforced"
    assert refused.value.earliest_date == D(2021, 7, 29)
    decide(
        city,
        born=ADULT,
        campaign=PRIMARY,
        vaccine="moderna",
        number=2,
        on=D(2021, 7, 29),
        history=history,
    )


def test_it_never_lets_a_municipality_loosen_a_national_minimum(city: Municipality) -> None:
    looser = IntervalRule(
        code="nichinan.pfizer.d2.loose",
        municipality=city,
        antigen="covid19",
        vaccine=Vaccine.objects.get(code="pfizer-12"),
        dose_number_min=2,
        dose_number_max=2,
        reference=IntervalRule.Reference.PREVIOUS_DOSE,
        amount=10,
        unit=IntervalRule.Unit.DAYS_GAP,
        strength=IntervalRule.Strength.HARD_MIN,
        effective_from=D(2021, 2, 17),
    )
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        looser.full_clean()
    looser.save()  # even if saved around the admin, national rules still apply
    history = [dose("pfizer-12", 1, D(2021, 6, 3), PRIMARY)]
    with pytest.raises(NotEligible):
        decide(
            city,
            born=ADULT,
            campaign=PRIMARY,
            vaccine="pfizer-12",
            number=2,
            on=D(2021, 6, 15),
            history=history,
        )


def test_it_scenario_04_mixing_needs_27_days_and_a_reason(city: Municipality) -> None:
    history = [dose("pfizer-12", 1, D(2021, 8, 2), PRIMARY)]
    with pytest.raises(NotEligible):
        decide(
            city,
            born=ADULT,
            campaign=PRIMARY,
            vaccine="moderna",
            number=2,
            on=D(2021, 8, 29),
            history=history,
            reason="1回目で副反応",
        )
    with pytest.raises(NotEligible) as refused:
        decide(
            city,
            born=ADULT,
            campaign=PRIMARY,
            vaccine="moderna",
            number=2,
            on=D(2021, 8, 30),
            history=history,
        )
    assert refused.value.rule_code == "covid.primary.mix"
    assert refused.value.reason_would_allow
    decide(
        city,
        born=ADULT,
        campaign=PRIMARY,
        vaccine="moderna",
        number=2,
        on=D(2021, 8, 30),
        history=history,
        reason="1回目で副反応",
    )


def test_it_scenario_05_uses_the_rule_version_in_force(city: Municipality) -> None:
    history = [
        dose("pfizer-12", 1, D(2022, 2, 1), PRIMARY),
        dose("pfizer-12", 2, D(2022, 7, 15), PRIMARY),
    ]
    with pytest.raises(NotEligible) as refused:
        decide(
            city,
            born=ADULT,
            campaign="covid-2022-autumn",
            vaccine="pfizer-12",
            number=3,
            on=D(2022, 10, 20),
            history=history,
        )
    assert refused.value.rule_code == "covid.booster.5m"
    # The earliest date that passes is when the 3-month rule takes effect, not 12/15.
    assert refused.value.earliest_date == D(2022, 10, 21)
    decide(
        city,
        born=ADULT,
        campaign="covid-2022-autumn",
        vaccine="pfizer-12",
        number=3,
        on=D(2022, 10, 21),
        history=history,
    )


def test_it_scenario_06_judges_by_the_vaccination_date_not_the_booking_date(
    city: Municipality,
) -> None:
    history = [dose("pfizer-12", 2, D(2022, 7, 20), PRIMARY)]
    decide(
        city,
        born=ADULT,
        campaign="covid-2022-autumn",
        vaccine="pfizer-12",
        number=3,
        on=D(2022, 10, 25),
        booked_on=D(2022, 10, 10),
        history=history,
    )


def test_it_scenario_07_month_end(city: Municipality) -> None:
    history = [dose("pfizer-12", 3, D(2022, 11, 30))]
    with pytest.raises(NotEligible) as refused:
        decide(
            city,
            born=ADULT,
            campaign="covid-2022-autumn",
            vaccine="pfizer-12",
            number=4,
            on=D(2023, 2, 28),
            history=history,
        )
    assert refused.value.earliest_date == D(2023, 3, 1)
    decide(
        city,
        born=ADULT,
        campaign="covid-2022-autumn",
        vaccine="pfizer-12",
        number=4,
        on=D(2023, 3, 1),
        history=history,
    )


def test_it_scenario_08_age_on_the_vaccination_date(city: Municipality) -> None:
    with pytest.raises(NotEligible) as refused:
        decide(
            city,
            born=D(2010, 6, 15),
            campaign=PRIMARY,
            vaccine="pfizer-12",
            number=1,
            on=D(2022, 6, 13),
        )
    assert refused.value.rule_code == "covid.primary.pfizer12.age"
    assert refused.value.earliest_date == D(2022, 6, 14)
    decide(
        city,
        born=D(2010, 6, 15),
        campaign=PRIMARY,
        vaccine="pfizer-12",
        number=1,
        on=D(2022, 6, 14),
    )


def test_it_scenario_09_fiscal_year_cohorts_open_later(city: Municipality) -> None:
    program = Program.objects.get(code="covid-primary")
    for code, age, opens in (
        ("nichinan.2021.75plus", 75, D(2021, 5, 17)),
        ("nichinan.2021.65plus", 65, D(2021, 5, 24)),
    ):
        EligibilityRule.objects.create(
            code=code,
            municipality=city,
            program=program,
            min_age_months=age * 12,
            age_basis=EligibilityRule.AgeBasis.FISCAL_YEAR_END,
            effective_from=D(2021, 4, 12),
            booking_opens_on=opens,
        )
    decide(
        city,
        born=D(1947, 4, 1),
        campaign=PRIMARY,
        vaccine="pfizer-12",
        number=1,
        on=D(2021, 6, 1),
        booked_on=D(2021, 5, 17),
    )
    with pytest.raises(BookingNotOpenYet) as later:
        decide(
            city,
            born=D(1947, 4, 2),
            campaign=PRIMARY,
            vaccine="pfizer-12",
            number=1,
            on=D(2021, 6, 1),
            booked_on=D(2021, 5, 17),
        )
    assert later.value.opens_on == D(2021, 5, 24)
    # Under 65 at the fiscal year end: not eligible at all under the city's cohorts.
    with pytest.raises(NotEligible):
        decide(
            city,
            born=D(1970, 1, 1),
            campaign=PRIMARY,
            vaccine="pfizer-12",
            number=1,
            on=D(2021, 6, 1),
            booked_on=D(2021, 5, 24),
        )


def test_it_scenario_10_infant_formulation_follows_age_at_first_dose(city: Municipality) -> None:
    born = D(2018, 11, 10)
    history = [
        dose("pfizer-6m-4y", 1, D(2023, 10, 1), PRIMARY),
        dose("pfizer-6m-4y", 2, D(2023, 10, 22), PRIMARY),
    ]
    with pytest.raises(NotEligible) as refused:
        decide(
            city,
            born=born,
            campaign=PRIMARY,
            vaccine="pfizer-6m-4y",
            number=3,
            on=D(2023, 12, 16),
            history=history,
        )
    assert refused.value.earliest_date == D(2023, 12, 17)
    decide(
        city,
        born=born,
        campaign=PRIMARY,
        vaccine="pfizer-6m-4y",
        number=3,
        on=D(2023, 12, 17),
        history=history,
    )
    with pytest.raises(NotEligible):
        decide(
            city,
            born=born,
            campaign=PRIMARY,
            vaccine="pfizer-5-11",
            number=3,
            on=D(2023, 12, 17),
            history=history,
        )


def test_it_scenario_11_routine_2024_turns_65_the_day_before_the_birthday(
    city: Municipality,
) -> None:
    decide(
        city,
        born=D(1959, 10, 2),
        campaign="covid-routine-2024",
        vaccine="pfizer-12",
        number=1,
        on=D(2024, 10, 1),
    )
    with pytest.raises(NotEligible) as refused:
        decide(
            city,
            born=D(1959, 10, 3),
            campaign="covid-routine-2024",
            vaccine="pfizer-12",
            number=1,
            on=D(2024, 10, 1),
        )
    assert refused.value.earliest_date == D(2024, 10, 2)
    decide(
        city,
        born=D(1959, 10, 3),
        campaign="covid-routine-2024",
        vaccine="pfizer-12",
        number=1,
        on=D(2024, 10, 2),
    )


def test_it_scenario_12_60_to_64_need_the_attestation(city: Municipality) -> None:
    with pytest.raises(NotEligible):
        decide(
            city,
            born=D(1962, 5, 5),
            campaign="covid-routine-2024",
            vaccine="pfizer-12",
            number=1,
            on=D(2024, 11, 1),
        )
    decide(
        city,
        born=D(1962, 5, 5),
        campaign="covid-routine-2024",
        vaccine="pfizer-12",
        number=1,
        on=D(2024, 11, 1),
        attested=True,
    )


def test_it_scenario_13_one_dose_per_campaign(city: Municipality) -> None:
    history = [
        dose("pfizer-12", 2, D(2022, 3, 1), PRIMARY),
        dose("pfizer-12", 3, D(2022, 10, 1), "covid-2022-autumn"),
    ]
    with pytest.raises(NotEligible) as refused:
        decide(
            city,
            born=ADULT,
            campaign="covid-2022-autumn",
            vaccine="novavax",
            number=4,
            on=D(2022, 12, 15),
            history=history,
        )
    assert refused.value.rule_code == "program.covid-2022-autumn.limit"


def test_it_scenario_14_other_vaccines_by_rule_version(city: Municipality) -> None:
    flu_2021 = [dose("influenza-ha", 1, D(2021, 10, 1))]
    with pytest.raises(NotEligible) as refused:
        decide(
            city,
            born=ADULT,
            campaign=PRIMARY,
            vaccine="pfizer-12",
            number=1,
            on=D(2021, 10, 14),
            history=flu_2021,
        )
    assert refused.value.rule_code == "covid.other-vaccine.2021"
    assert refused.value.earliest_date == D(2021, 10, 15)
    decide(
        city,
        born=ADULT,
        campaign=PRIMARY,
        vaccine="pfizer-12",
        number=1,
        on=D(2021, 10, 15),
        history=flu_2021,
    )
    with pytest.raises(NotEligible):
        decide(
            city,
            born=ADULT,
            campaign=PRIMARY,
            vaccine="pfizer-12",
            number=1,
            on=D(2021, 10, 1),
            history=flu_2021,
        )
    flu_2022 = [dose("influenza-ha", 1, D(2022, 10, 1))]
    decide(
        city,
        born=ADULT,
        campaign=PRIMARY,
        vaccine="pfizer-12",
        number=1,
        on=D(2022, 10, 1),
        history=flu_2022,
    )


def test_it_names_the_rule_and_date_in_the_message(city: Municipality) -> None:
    with pytest.raises(NotEligible) as refused:
        decide(
            city,
            born=D(1959, 10, 3),
            campaign="covid-routine-2024",
            vaccine="pfizer-12",
            number=1,
            on=D(2024, 10, 1),
        )
    message = str(refused.value.message)
    assert "covid.routine" in message
    assert "2024-10-02" in message and "令和6年10月2日" in message


def test_it_refuses_outside_the_campaign_period(city: Municipality) -> None:
    with pytest.raises(NotEligible) as refused:
        decide(
            city,
            born=D(1940, 1, 1),
            campaign="covid-routine-2026",
            vaccine="pfizer-12",
            number=1,
            on=D(2026, 9, 30),
        )
    assert refused.value.earliest_date == D(2026, 10, 1)
