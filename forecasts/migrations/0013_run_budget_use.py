"""The run budget's counts on PostgreSQL (models.RunBudgetUse), in an UNLOGGED table there: a
count that lasts one window needs no write-ahead log (a crash empties the table, which gives every
client a fresh window)."""

from django.db import migrations, models


def unlogged(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        table = schema_editor.quote_name(apps.get_model("forecasts", "RunBudgetUse")._meta.db_table)
        schema_editor.execute(f"ALTER TABLE {table} SET UNLOGGED")


class Migration(migrations.Migration):
    dependencies = [
        ("forecasts", "0012_backtest_model_version"),
    ]

    operations = [
        migrations.CreateModel(
            name="RunBudgetUse",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "window_start",
                        "client",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                (
                    "window_start",
                    models.BigIntegerField(help_text="Start of the window, in Unix seconds"),
                ),
                (
                    "client",
                    models.CharField(help_text="Keyed hash of the client's identity", max_length=64),
                ),
                ("used", models.PositiveIntegerField()),
            ],
            options={
                "verbose_name": "run budget use",
            },
        ),
        migrations.RunPython(unlogged, migrations.RunPython.noop, elidable=True),
    ]
