from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from forecasts import selectors, services


class Command(BaseCommand):
    help = (
        "Import a UN World Population Prospects file and make it the active dataset. SOURCE is a "
        "local path or an http(s) URL of a WPP2019 wide CSV or a WPP2022/2024 long CSV (.csv or "
        ".csv.gz). Without SOURCE the embedded WPP2019 estimates file is imported (no network "
        "needed); --official downloads the current official WPP2024 file. The previous data is "
        "replaced in one transaction; a bad file changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "source",
            nargs="?",
            help="Path or URL of the file (default: the embedded WPP2019 estimates file).",
        )
        parser.add_argument(
            "--official",
            action="store_true",
            help="Download and import the current official WPP file (settings.WPP_OFFICIAL_URL).",
        )
        parser.add_argument(
            "--last-estimate-year",
            type=int,
            metavar="YEAR",
            help="Long files: the last year of estimates in the Medium variant (default: detected).",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when a dataset is already loaded (used by `make run`).",
        )

    def handle(self, *args, source=None, last_estimate_year=None, if_empty=False, **options):
        if source and options["official"]:
            raise CommandError("Give SOURCE or --official, not both.", returncode=2)
        active = selectors.dataset_active()
        if if_empty and active is not None:
            self.stdout.write(f"Data is already loaded ({active}); nothing to import.")
            return
        if options["official"]:
            source = settings.WPP_OFFICIAL_URL
        source = str(source or settings.WPP_EMBEDDED_FILE)
        show_progress = options["verbosity"] > 0
        bar = tqdm(
            total=0,
            unit="B",
            unit_scale=True,
            desc="Importing",
            disable=not show_progress,
            file=self.stderr._out,
        )

        def advance(bytes_read):
            bar.update(bytes_read - bar.n)

        self.stdout.write(f"Importing {source}")
        try:
            dataset = services.dataset_import(
                source=source,
                last_estimate_year=last_estimate_year,
                progress_start=lambda total: bar.reset(total=total),
                progress=advance,
            )
        except services.DatasetImportError as error:
            raise CommandError(f"Import failed: {error}") from None
        finally:
            bar.close()
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {dataset.edition} ({dataset.file_format}): {dataset.region_count} regions, "
                f"{dataset.value_count} values, years {dataset.first_year}–{dataset.last_year}, "
                f"{len(dataset.variants)} variants ({', '.join(dataset.variants)}), "
                f"in {dataset.duration_seconds:.2f} s."
            )
        )
