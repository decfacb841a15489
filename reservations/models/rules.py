"""Vaccines, programmes, campaigns, and the eligibility and interval rules held as data.

Rules are rows with an effective period, not code: the rule in force **on the vaccination date**
decides (domain.md §8). They are shipped in `reservations/rules/national.toml`, loaded by
`manage.py load_rules`, and editable in the admin. A municipality may add its own, stricter rules;
national rules always apply as well, so a municipal row can tighten but never loosen them.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Antigen(models.TextChoices):
    """What a vaccine protects against; dose histories are counted per antigen."""

    COVID19 = "covid19", _("新型コロナウイルス感染症")
    INFLUENZA = "influenza", _("インフルエンザ")


class Vaccine(models.Model):
    """A vaccine product (製品), e.g. Comirnaty for ages 12+."""

    class Platform(models.TextChoices):
        MRNA = "mrna", _("mRNA")
        PROTEIN = "protein", _("組換えタンパク")
        VIRAL_VECTOR = "viral_vector", _("ウイルスベクター")
        INACTIVATED = "inactivated", _("不活化")
        LIVE = "live", _("生ワクチン")

    code = models.SlugField(_("コード"), max_length=40, unique=True)
    name = models.CharField(_("販売名"), max_length=100)
    name_en = models.CharField(
        _("販売名（英語）"),
        max_length=100,
        blank=True,
        help_text=_("英語の画面・SMS・LINEで使います。空欄なら日本語の販売名を表示します。"),
    )
    brand = models.CharField(_("ブランド"), max_length=50, blank=True)
    maker = models.CharField(_("製造販売業者"), max_length=50, blank=True)
    vrs_maker_label = models.CharField(
        _("VRSメーカー表記"),
        max_length=20,
        blank=True,
        help_text=_("VRS出力のワクチンメーカー欄（例: ファイザー）"),
    )
    antigen = models.CharField(_("対象疾病"), max_length=20, choices=Antigen.choices)
    platform = models.CharField(_("種類"), max_length=20, choices=Platform.choices)
    formulation = models.CharField(_("製剤"), max_length=30, blank=True)
    doses_per_vial = models.PositiveSmallIntegerField(_("1バイアルの接種回数"), default=1)
    primary_series_doses = models.PositiveSmallIntegerField(
        _("初回接種の回数"), default=1, help_text=_("2ならセット予約（1回目と2回目）")
    )

    class Meta:
        verbose_name = _("ワクチン")
        verbose_name_plural = _("ワクチン")
        ordering = ["antigen", "code"]

    def __str__(self) -> str:
        return self.name


class Program(models.Model):
    """A vaccination programme under one legal basis, e.g. the COVID-19 routine (B類) programme.

    Eligibility rules belong to a programme; each season or round of it is a Campaign.
    """

    class Category(models.TextChoices):
        SPECIAL_TEMPORARY = "special_temporary", _("特例臨時接種")
        ROUTINE_A = "routine_a", _("定期接種（A類）")
        ROUTINE_B = "routine_b", _("定期接種（B類）")
        VOLUNTARY = "voluntary", _("任意接種")

    code = models.SlugField(_("コード"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    antigen = models.CharField(_("対象疾病"), max_length=20, choices=Antigen.choices)
    category = models.CharField(_("法的区分"), max_length=30, choices=Category.choices)
    max_doses_per_campaign = models.PositiveSmallIntegerField(
        _("1キャンペーンあたりの上限回数"),
        null=True,
        blank=True,
        help_text=_("例: 1（シーズンに1回）。空欄なら上限なし"),
    )
    cumulative_dose_numbers = models.BooleanField(
        _("接種回数を通算する"),
        default=True,
        help_text=_("新型コロナは通算の回数（3回目、4回目…）。インフルエンザはシーズンごと"),
    )

    class Meta:
        verbose_name = _("接種事業")
        verbose_name_plural = _("接種事業")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Campaign(models.Model):
    """One round of a programme with its own period (e.g. 令和8年度 秋冬の定期接種).

    A campaign without a municipality is national; a municipality's own campaign narrows the
    period (and can be its own season of a routine programme).
    """

    code = models.SlugField(_("コード"), max_length=60, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    name_en = models.CharField(
        _("名称（英語）"),
        max_length=100,
        blank=True,
        help_text=_("英語の画面で使います。空欄なら日本語の名称を表示します。"),
    )
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="campaigns")
    municipality = models.ForeignKey(
        "reservations.Municipality",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="campaigns",
    )
    starts_on = models.DateField(_("開始日"))
    ends_on = models.DateField(_("終了日"), null=True, blank=True)
    vaccines = models.ManyToManyField(Vaccine, verbose_name=_("使用ワクチン"), blank=True)

    class Meta:
        verbose_name = _("キャンペーン")
        verbose_name_plural = _("キャンペーン")
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")),
                name="%(app_label)s_%(class)s_ends_after_start",
                violation_error_message=_("終了日は開始日以降にしてください。"),
            )
        ]

    def __str__(self) -> str:
        return self.name

    def covers(self, day: dt.date) -> bool:
        return self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)


class RuleBase(models.Model):
    """What every rule row has: a stable code, an effective period and where it came from."""

    code = models.CharField(_("ルールコード"), max_length=80)
    municipality = models.ForeignKey(
        "reservations.Municipality",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        help_text=_("空欄なら全国共通。自治体独自のルールは全国ルールに追加で適用されます"),
    )
    effective_from = models.DateField(_("適用開始日（接種日）"))
    effective_to = models.DateField(_("適用終了日（接種日）"), null=True, blank=True)
    dose_number_min = models.PositiveSmallIntegerField(_("対象の回数（から）"), default=1)
    dose_number_max = models.PositiveSmallIntegerField(
        _("対象の回数（まで）"), null=True, blank=True
    )
    source = models.CharField(_("根拠"), max_length=300, blank=True)
    note = models.TextField(_("備考"), blank=True)

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["code"],
                condition=Q(municipality__isnull=True),
                name="%(app_label)s_%(class)s_unique_national_code",
            ),
            models.UniqueConstraint(
                fields=["municipality", "code"],
                condition=Q(municipality__isnull=False),
                name="%(app_label)s_%(class)s_unique_municipal_code",
            ),
        ]

    def in_force_on(self, day: dt.date) -> bool:
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )

    def covers_dose(self, dose_number: int) -> bool:
        return self.dose_number_min <= dose_number and (
            self.dose_number_max is None or dose_number <= self.dose_number_max
        )


class EligibilityRule(RuleBase):
    """Who may receive a dose in a programme: age, and an attestation where the law asks for one.

    A dose is allowed when at least one rule in force on the vaccination date matches.
    Ages follow 年齢計算ニ関スル法律: "X歳以上" holds from the day before the Xth birthday.
    """

    class AgeBasis(models.TextChoices):
        ON_DATE = "on_date", _("接種日の年齢")
        FISCAL_YEAR_END = "fiscal_year_end", _("年度末（3月31日）の年齢")
        AT_FIRST_DOSE = "at_first_dose", _("1回目接種日の年齢")

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="eligibility_rules")
    vaccine = models.ForeignKey(
        Vaccine, on_delete=models.CASCADE, null=True, blank=True, help_text=_("空欄なら全製品")
    )
    min_age_months = models.PositiveIntegerField(_("下限年齢（月）"), default=0)
    below_age_months = models.PositiveIntegerField(
        _("上限年齢（この月齢未満）"), null=True, blank=True
    )
    age_basis = models.CharField(
        _("年齢の基準"), max_length=20, choices=AgeBasis.choices, default=AgeBasis.ON_DATE
    )
    requires_attestation = models.BooleanField(
        _("申告が必要"),
        default=False,
        help_text=_("例: 60〜64歳で身体障害者手帳1級相当。診断内容は保存せず、申告の有無のみ"),
    )
    booking_opens_on = models.DateField(
        _("予約受付開始日"),
        null=True,
        blank=True,
        help_text=_("年齢等で順に予約を開始するときの、この対象者の受付開始日"),
    )

    class Meta(RuleBase.Meta):
        verbose_name = _("接種対象ルール")
        verbose_name_plural = _("接種対象ルール")
        ordering = ["program", "effective_from", "code"]

    def __str__(self) -> str:
        return self.code


class IntervalRule(RuleBase):
    """How long after an earlier vaccination a dose may be given.

    Units follow the MHLW reading (domain.md §2.1): "N日以上の間隔をおいて" (DAYS_GAP) allows the
    dose from day N+1; "Nか月以上" (MONTHS) from the same day-of-month N months later, or the 1st
    of the following month when that day does not exist.
    Strength: HARD_MIN blocks; STANDARD proposes the paired date and warns if earlier; ADVISORY
    only warns.
    """

    class Reference(models.TextChoices):
        PREVIOUS_DOSE = "previous_dose", _("同じ疾病の前回接種")
        PREVIOUS_DOSE_OTHER_PRODUCT = (
            "previous_dose_other_product",
            _("前回接種が別の製品（交互接種）"),
        )
        OTHER_ANTIGEN = "other_antigen", _("他のワクチン（前後）")

    class Unit(models.TextChoices):
        DAYS_GAP = "days_gap", _("日以上の間隔")
        MONTHS = "months", _("か月以上")

    class Strength(models.TextChoices):
        HARD_MIN = "hard_min", _("必須（これより早くは不可）")
        STANDARD = "standard", _("標準（推奨日）")
        ADVISORY = "advisory", _("注意喚起のみ")

    antigen = models.CharField(_("対象疾病"), max_length=20, choices=Antigen.choices)
    vaccine = models.ForeignKey(
        Vaccine,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        help_text=_("今回接種する製品。空欄なら全製品"),
    )
    reference = models.CharField(_("基準"), max_length=40, choices=Reference.choices)
    reference_antigen = models.CharField(
        _("基準とする他の疾病"),
        max_length=20,
        choices=Antigen.choices,
        blank=True,
        help_text=_("他のワクチンとの間隔で、特定の疾病だけを対象にするとき"),
    )
    exempt_antigens = models.JSONField(
        _("間隔を問わない疾病"), default=list, blank=True, help_text=_('例: ["influenza"]')
    )
    amount = models.PositiveSmallIntegerField(_("間隔"))
    unit = models.CharField(_("単位"), max_length=10, choices=Unit.choices)
    strength = models.CharField(_("強さ"), max_length=10, choices=Strength.choices)
    after_primary_series = models.BooleanField(
        _("追加接種のみ"),
        default=False,
        help_text=_("製品の初回接種の回数を超える回（追加接種）にだけ適用する"),
    )
    requires_reason = models.BooleanField(
        _("理由の記録が必要"),
        default=False,
        help_text=_("交互接種など、理由を記録した場合のみ認めるとき"),
    )

    class Meta(RuleBase.Meta):
        verbose_name = _("接種間隔ルール")
        verbose_name_plural = _("接種間隔ルール")
        ordering = ["antigen", "effective_from", "code"]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        # Municipal rows are applied in addition to national ones, so a looser municipal row
        # could never let anything through; reject it so nobody believes it does.
        if self.municipality_id is None or self.strength != self.Strength.HARD_MIN:
            return
        looser = IntervalRule.objects.filter(
            municipality__isnull=True,
            antigen=self.antigen,
            reference=self.reference,
            unit=self.unit,
            strength=self.Strength.HARD_MIN,
            amount__gt=self.amount,
            vaccine=self.vaccine,
        ).first()
        if looser is not None:
            raise ValidationError(
                _("全国ルール %(code)s（%(amount)s）より緩い間隔は設定できません。"),
                params={"code": looser.code, "amount": looser.amount},
            )


class CohortOpening(models.Model):
    """When booking opens for one birth-date band (a cohort door): 2021-style staged openings,
    e.g. born on or before 1946-12-31 from 2027-01-10 09:00, born 1947-1961 from 01-17 09:00.

    Once a municipality has rows that apply to a campaign, a resident may book in it only after
    the door of their band has opened; a resident in no band waits until a row covers them
    (add a last row without a band for "everyone else"). Rows for a campaign replace the
    municipality's rows for all campaigns. No rows: no restriction. Read by
    `reservations.cohorts`, which every booking channel passes through.

    The pre-opening check (`reservations.season_check`) runs before each opening; while its
    last run found errors that no administrator has overridden (`OpeningCheck`), the door
    stays shut even after `opens_at` (`check_blocked`).
    """

    municipality = models.ForeignKey(
        "reservations.Municipality", on_delete=models.CASCADE, related_name="cohort_openings"
    )
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="cohort_openings",
        help_text=_("空欄ならすべての接種事業に適用。指定した事業では、その事業の行だけを使います"),
    )
    born_from = models.DateField(
        _("生年月日（から）"), null=True, blank=True, help_text=_("空欄なら下限なし")
    )
    born_to = models.DateField(
        _("生年月日（まで）"),
        null=True,
        blank=True,
        help_text=_(
            "この日に生まれた方を含みます。例: 1946年以前生まれなら 1946-12-31。空欄なら上限なし"
        ),
    )
    opens_at = models.DateTimeField(_("予約受付開始日時"))
    expected_bookings = models.PositiveIntegerField(
        _("見込みの予約者数"),
        null=True,
        blank=True,
        help_text=_(
            "開始前チェックで枠数と比べる人数。空欄なら対象の年代の接種券の数×"
            "想定予約率（SEASON_CHECK_UPTAKE_PERCENT）"
        ),
    )
    # The pre-opening check (reservations.season_check) keeps its verdict here, on the row the
    # booking path already reads from its per-process copy, so the gate costs no query.
    # Written only by reservations.services.openings.
    check_blocked = models.BooleanField(
        _("開始前チェックで停止中"),
        default=False,
        editable=False,
        help_text=_("最後の開始前チェックにエラーがあり、管理者の承認がない"),
    )
    checked_at = models.DateTimeField(_("最終チェック日時"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("年代別の予約受付開始")
        verbose_name_plural = _("年代別の予約受付開始")
        ordering = ["municipality", "opens_at", "born_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(born_from__isnull=True)
                | Q(born_to__isnull=True)
                | Q(born_to__gte=F("born_from")),
                name="%(app_label)s_%(class)s_band_in_order",
                violation_error_message=_("生年月日の範囲は「から」を「まで」以前にしてください。"),
            ),
        ]

    def __str__(self) -> str:
        band = f"{self.born_from or ''}〜{self.born_to or ''}"
        return f"{band} {timezone.localtime(self.opens_at):%Y-%m-%d %H:%M}"

    def covers(self, birth_date: dt.date) -> bool:
        return (self.born_from is None or self.born_from <= birth_date) and (
            self.born_to is None or birth_date <= self.born_to
        )

    def overlaps(self, other: CohortOpening) -> bool:
        return (
            self.born_from is None or other.born_to is None or self.born_from <= other.born_to
        ) and (self.born_to is None or other.born_from is None or other.born_from <= self.born_to)

    def clean(self) -> None:
        # Two bands covering one birth date would give that resident two opening times; the
        # database cannot refuse overlapping ranges portably (SQLite), so the admin does.
        if self.municipality_id is None or (
            self.born_from and self.born_to and self.born_from > self.born_to
        ):
            return
        same_campaign = (
            Q(campaign__isnull=True)
            if self.campaign_id is None
            else Q(campaign_id=self.campaign_id)
        )
        siblings = CohortOpening.objects.filter(
            same_campaign, municipality_id=self.municipality_id
        ).exclude(pk=self.pk)
        clash = next((row for row in siblings if row.overlaps(self)), None)
        if clash is not None:
            raise ValidationError(
                _("生年月日の範囲が「%(other)s」と重なっています。"), params={"other": str(clash)}
            )
