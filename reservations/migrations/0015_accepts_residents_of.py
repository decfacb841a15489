"""住所地外接種 (issue 18): a municipality may accept the residents of named other municipalities
into its slots; the booking core refuses every other booking across municipalities."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reservations", "0014_event_no_show_undone"),
    ]

    operations = [
        migrations.AddField(
            model_name="municipality",
            name="accepts_residents_of",
            field=models.ManyToManyField(
                blank=True,
                help_text="ここに選んだ自治体の接種券をお持ちの方も、この自治体の会場を予約できます（住所地外接種）。逆向きには働きません。",
                related_name="residents_accepted_by",
                to="reservations.municipality",
                verbose_name="住所地外接種を受け入れる自治体",
            ),
        ),
    ]
