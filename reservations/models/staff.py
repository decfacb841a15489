"""Which municipalities (and, for a clinic's staff, which sites) a member of staff works for.

Every staff surface reads this through reservations.staff_scope: the console, the venue pages,
exports, the admin's changelists and the API's staff tokens show and change only what lies
inside it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class StaffAssignment(models.Model):
    """One municipality a member of staff works for: the whole of it (site empty), or one of its
    sites (a clinic doing 個別接種 sees only its own site). A user holds one row per
    municipality, or one per site; a whole-municipality row makes that municipality's site rows
    redundant."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="staff_assignments",
        verbose_name=_("職員"),
    )
    municipality = models.ForeignKey(
        "reservations.Municipality",
        on_delete=models.PROTECT,
        related_name="staff_assignments",
        verbose_name=_("担当自治体"),
    )
    site = models.ForeignKey(
        "reservations.Site",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff_assignments",
        verbose_name=_("担当会場"),
        help_text=_("空欄なら自治体のすべての会場。個別接種の医療機関の職員は自院のみ。"),
    )

    class Meta:
        verbose_name = _("職員の担当")
        verbose_name_plural = _("職員の担当")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "municipality"],
                condition=Q(site__isnull=True),
                name="staff_assignment_one_whole_municipality",
            ),
            models.UniqueConstraint(
                fields=["user", "site"],
                condition=Q(site__isnull=False),
                name="staff_assignment_one_row_per_site",
            ),
        ]

    def __str__(self) -> str:
        where = self.site if self.site_id is not None else self.municipality
        return f"{self.user} → {where}"

    def clean(self) -> None:
        # A site row names its own municipality: the scope's queries trust this pairing.
        site = self.site if self.site_id is not None else None
        if (
            site is not None
            and self.municipality_id is not None
            and site.municipality_id != self.municipality_id
        ):
            raise ValidationError({"site": _("この会場は担当自治体の会場ではありません。")})
