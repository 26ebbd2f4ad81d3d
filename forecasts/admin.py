"""The admin: data refresh and import history, regions and values (read-only), forecast runs.

Data comes from WPP files and is never edited by hand here; an operator refreshes it, looks after
the run history (re-run on current data, delete, prune with the ``prune_runs`` command).
"""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from . import presenters, selectors, services
from .admin_forms import DatasetRefreshForm, PruneRunsForm, UploadSizeLimitHandler
from .models import Dataset, ForecastRun, Job, Region, YearlyPopulation

# Re-runs happen in the worker; the cap keeps one job's list of runs reasonable.
MAX_RERUNS = 1000

admin.site.site_header = "Population forecasts administration"
admin.site.site_title = "Population forecasts admin"
admin.site.index_title = "Data, import history and forecast runs"


class RefuseNulLookupsMixin:
    """Changelist filters with a NUL character (``?variant=%00``) are a 400, not a 500.

    PostgreSQL cannot take a NUL in a query parameter; a refused lookup is Django's
    SuspiciousOperation, which answers 400.
    """

    def lookup_allowed(self, lookup, value, request=None):
        if "\x00" in str(lookup) or "\x00" in str(value):
            return False
        return super().lookup_allowed(lookup, value, request)


class ReadOnlyAdmin(RefuseNulLookupsMixin, admin.ModelAdmin):
    """Shows rows and never edits them: they come from the imported files."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _active_dataset(request) -> Dataset | None:
    """The active dataset, read once per request however many filters ask."""
    if not hasattr(request, "_active_dataset"):
        request._active_dataset = selectors.dataset_active()
    return request._active_dataset


@admin.register(Dataset)
class DatasetAdmin(ReadOnlyAdmin):
    list_display = (
        "__str__",
        "edition",
        "source",
        "file_format",
        "region_count",
        "value_count",
        "status",
        "is_active",
        "started_at",
        "seconds",
        "error_summary",
    )
    list_filter = ("status", "is_active")
    search_fields = ("edition", "source")

    @admin.display(description="seconds", ordering="duration_seconds")
    def seconds(self, dataset):
        if dataset.duration_seconds is None:
            return None
        return f"{dataset.duration_seconds:.2f}"

    @admin.display(description="error")
    def error_summary(self, dataset):
        return dataset.error if len(dataset.error) <= 120 else dataset.error[:119] + "…"

    def has_refresh_permission(self, request):
        """Refreshing adds a dataset: it takes the "add dataset" permission (superusers have it)."""
        codename = get_permission_codename("add", self.opts)
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")

    def get_urls(self):
        names = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "refresh/",
                self.admin_site.admin_view(csrf_exempt(self.refresh_view)),
                name=f"{names}_refresh",
            ),
            path(
                "refresh/<int:pk>/",
                self.admin_site.admin_view(self.refresh_result_view),
                name=f"{names}_refresh_result",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_refresh": self.has_refresh_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def refresh_view(self, request):
        """Import an uploaded file or a URL with the same service as ``import_wpp``.

        The size limit is enforced while the upload arrives, so the handler goes in before the
        request body is read; that is why CSRF is checked here (``_refresh``), not by the middleware.
        """
        request.upload_handlers.insert(
            0, UploadSizeLimitHandler(request, limit=settings.WPP_UPLOAD_MAX_BYTES)
        )
        return self._refresh(request)

    @method_decorator(csrf_protect)
    def _refresh(self, request):
        """Queue the import and show its job page at once: the worker imports in the background.

        An upload is first kept in WPP_UPLOAD_DIR, since Django removes its temporary file when
        this request ends and the worker imports it later.
        """
        if not self.has_refresh_permission(request):
            raise PermissionDenied
        form = DatasetRefreshForm()
        status = 200
        if request.method == "POST":
            form = DatasetRefreshForm(request.POST, request.FILES)
            status = 400
            if form.is_valid():
                data = form.cleaned_data
                upload_path = services.upload_store(data["file"]) if data["file"] else None
                job = services.job_import_enqueue(
                    upload_path=upload_path,
                    url=None if upload_path else data["url"],
                    last_estimate_year=data["last_estimate_year"],
                    user=request.user,
                )
                return redirect("admin:forecasts_job_change", job.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Refresh data",
            "opts": self.opts,
            "form": form,
            "active_dataset": selectors.dataset_active(),
            "recent_imports": Job.objects.filter(kind=Job.Kind.IMPORT)[:5],
        }
        return TemplateResponse(
            request, "admin/forecasts/dataset/refresh.html", context, status=status
        )

    def refresh_result_view(self, request, pk):
        dataset = get_object_or_404(Dataset, pk=pk)
        if not self.has_view_permission(request, dataset):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": f"Data refreshed: {dataset.edition}"
            if dataset.status == Dataset.Status.SUCCEEDED
            else f"Import #{dataset.pk}: {dataset.get_status_display().lower()}",
            "opts": self.opts,
            "dataset": dataset,
            "can_refresh": self.has_refresh_permission(request),
        }
        return TemplateResponse(request, "admin/forecasts/dataset/refresh_result.html", context)


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    """Background jobs: each one's page shows its state and progress, then its result or error.

    The page refreshes itself (a meta refresh: the CSP allows no inline script) until the job is
    finished. Opening a running job first marks failed the jobs whose worker was killed.
    """

    list_display = ("id", "kind", "description", "status", "created_by", "created_at", "message")
    list_display_links = ("id", "description")
    list_filter = ("kind", "status")
    list_select_related = ("created_by",)
    REFRESH_SECONDS = 2
    WORKER_HINT_SECONDS = 10

    def changelist_view(self, request, extra_context=None):
        services.jobs_mark_interrupted()
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = get_object_or_404(Job, pk=object_id) if str(object_id).isdigit() else None
        if job is None:
            raise Http404
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        if job.status == Job.Status.RUNNING and services.jobs_mark_interrupted():
            job.refresh_from_db()
        waiting = (timezone.now() - job.created_at).total_seconds()
        context = {
            **self.admin_site.each_context(request),
            "title": str(job),
            "opts": self.opts,
            "job": job,
            "progress": services.job_progress(job) if job.status == Job.Status.RUNNING else None,
            "refresh_seconds": None if job.is_finished else self.REFRESH_SECONDS,
            "worker_hint": job.status == Job.Status.QUEUED and waiting > self.WORKER_HINT_SECONDS,
            "reruns": _rerun_links(job) if job.kind == Job.Kind.RERUN else None,
        }
        return TemplateResponse(request, "admin/forecasts/job/status.html", context)


def _rerun_links(job: Job) -> dict:
    change = "admin:forecasts_forecastrun_change"
    return {
        "created": [
            (reverse(change, args=[new]), new, old) for old, new in job.result.get("created", [])
        ],
        "refused": job.result.get("refused", []),
    }


@admin.register(Region)
class RegionAdmin(ReadOnlyAdmin):
    list_display = (
        "code",
        "name",
        "kind",
        "parent",
        "iso3",
        "first_year",
        "last_year",
        "value_count",
    )
    list_filter = ("kind",)
    list_select_related = ("parent",)
    search_fields = ("name", "code", "iso3")
    search_help_text = "Part of a name, or a whole UN code or ISO3 code."
    fields = (
        "code",
        "name",
        "kind",
        "parent",
        "children_links",
        "iso3",
        "sort_order",
        "first_year",
        "last_year",
        "value_count",
    )
    readonly_fields = ("children_links", "value_count")

    def get_queryset(self, request):
        values = (
            YearlyPopulation.objects.filter(region_id=OuterRef("code"))
            .order_by()
            .values("region_id")
            .annotate(count=Count("*"))
            .values("count")
        )
        return super().get_queryset(request).annotate(value_count=Coalesce(Subquery(values), 0))

    def get_search_results(self, request, queryset, search_term):
        """Search as the site does (RegionQuerySet.search): name contains, or code / ISO3 is."""
        return queryset.search(search_term), False

    @admin.display(description="values", ordering="value_count")
    def value_count(self, region):
        return region.value_count

    @admin.display(description="children")
    def children_links(self, region):
        children = region.children.order_by("sort_order", "code")
        if not children:
            return self.get_empty_value_display()
        return format_html_join(
            mark_safe("<br>"),
            '<a href="{}">{}</a> ({})',
            (
                (reverse("admin:forecasts_region_change", args=[child.pk]), child.name, child.code)
                for child in children
            ),
        )


class VariantListFilter(admin.SimpleListFilter):
    """The active dataset's variants, read from its Dataset row rather than from every value."""

    title = "variant"
    parameter_name = "variant"

    def lookups(self, request, model_admin):
        dataset = _active_dataset(request)
        return [(variant, variant) for variant in dataset.variants] if dataset else []

    def queryset(self, request, queryset):
        return queryset.variant(self.value()) if self.value() else queryset


class DecadeListFilter(admin.SimpleListFilter):
    """Decades of the active dataset's span, from its Dataset row."""

    title = "year"
    parameter_name = "decade"

    def lookups(self, request, model_admin):
        dataset = _active_dataset(request)
        if dataset is None or dataset.first_year is None:
            return []
        first = dataset.first_year // 10 * 10
        return [(str(decade), f"{decade}s") for decade in range(first, dataset.last_year + 1, 10)]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        if not (len(self.value()) == 4 and self.value().isdigit()):
            raise IncorrectLookupParameters(f"{self.value()!r} is not a decade such as 1950.")
        decade = int(self.value())
        return queryset.between(decade, decade + 9)


class EstimatedCountPaginator(Paginator):
    """Counts an unfiltered PostgreSQL table from the planner's statistics, not with COUNT(*).

    COUNT(*) reads every row of the ~500,000 population values; pg_class.reltuples (kept by
    ANALYZE and autovacuum) is close enough to number the pages. Filtered lists, small or
    never-analyzed tables and other databases are counted exactly.
    """

    EXACT_BELOW = 10_000

    @cached_property
    def count(self):
        queryset = self.object_list
        if isinstance(queryset, QuerySet) and not queryset.query.where:
            connection = connections[queryset.db]
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
                        [connection.ops.quote_name(queryset.model._meta.db_table)],
                    )
                    row = cursor.fetchone()
                if row and row[0] >= self.EXACT_BELOW:
                    return row[0]
        return super().count


@admin.register(YearlyPopulation)
class YearlyPopulationAdmin(ReadOnlyAdmin):
    list_display = ("region", "region_code", "variant", "year", "persons_display")
    list_filter = (VariantListFilter, DecadeListFilter)
    list_select_related = ("region",)
    search_fields = ("region__name", "=region__code")
    search_help_text = "A region: part of its name, or its whole UN code or ISO3 code."
    ordering = ("region_id", "variant", "year")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER

    def get_search_results(self, request, queryset, search_term):
        """Match the region first (a few hundred rows), then its values through the index."""
        if not search_term.strip():
            return queryset, False
        codes = Region.objects.search(search_term).values("code")
        return queryset.filter(region_id__in=codes), False

    @admin.display(description="code", ordering="region_id")
    def region_code(self, population):
        return population.region_id

    @admin.display(description="persons", ordering="persons")
    def persons_display(self, population):
        return f"{population.persons:,}"


@admin.register(ForecastRun)
class ForecastRunAdmin(RefuseNulLookupsMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "region_names",
        "start_year",
        "end_year",
        "method",
        "lags_asked",
        "level",
        "interval",
        "dataset",
        "created_at",
        "duration",
    )
    list_display_links = ("id", "region_names")
    list_select_related = ("dataset",)
    date_hierarchy = "created_at"
    actions = ["rerun_on_current_data"]
    fields = (
        "region_names",
        "start_year",
        "end_year",
        "method",
        "lags_asked",
        "level",
        "interval",
        "dataset",
        "created_at",
        "duration",
        "results",
    )
    readonly_fields = ("region_names", "lags_asked", "created_at", "duration", "results")
    list_filter = (("dataset", admin.RelatedOnlyFieldListFilter), "method", "created_at")

    @admin.display(description="lags")
    def lags_asked(self, run):
        return run.lags if run.lags is not None else "auto (AIC)"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_rerun_permission(self, request):
        """Re-running stores new runs: it takes the "add forecast run" permission."""
        codename = get_permission_codename("add", self.opts)
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")

    @admin.display(description="regions")
    def region_names(self, run):
        return ", ".join(region["name"] for region in run.regions)

    @admin.display(description="duration (ms)", ordering="duration_ms")
    def duration(self, run):
        return f"{run.duration_ms:.1f}"

    @admin.display(description="results (persons, rounded to the nearest thousand)")
    def results(self, run):
        header, rows = presenters.results_table(services.forecast_run_results(run))
        return format_html(
            '<table class="forecast-results"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
            format_html_join("", "<th>{}</th>", ((cell,) for cell in header)),
            format_html_join(
                "",
                "<tr>{}</tr>",
                ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows),
            ),
        )

    def get_deleted_objects(self, objs, request):
        """List the runs to delete without each of their points (they go with their run)."""
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        runs = [item for item in deleted if not isinstance(item, list)]
        return runs, model_count, perms_needed, protected

    @admin.action(description="Re-run on current data", permissions=["rerun"])
    def rerun_on_current_data(self, request, queryset):
        """Queue a job storing a new run for each selected one; the selected runs stay as they were."""
        run_ids = list(queryset.order_by("pk").values_list("pk", flat=True)[: MAX_RERUNS + 1])
        if len(run_ids) > MAX_RERUNS:
            self.message_user(
                request,
                f"Select at most {MAX_RERUNS} runs to re-run at once; {queryset.count()} were "
                "selected.",
                messages.ERROR,
            )
            return None
        job = services.job_rerun_enqueue(run_ids=run_ids, user=request.user)
        return redirect("admin:forecasts_job_change", job.pk)

    def get_urls(self):
        return [
            path(
                "prune/",
                self.admin_site.admin_view(self.prune_view),
                name="forecasts_forecastrun_prune",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_prune": self.has_delete_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def prune_view(self, request):
        """Queue a prune of old runs (what ``prune_runs`` does from cron), then show its job."""
        if not self.has_delete_permission(request):
            raise PermissionDenied
        form = PruneRunsForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            job = services.job_prune_enqueue(
                older_than_days=form.cleaned_data["older_than_days"],
                dry_run=form.cleaned_data["dry_run"],
                user=request.user,
            )
            return redirect("admin:forecasts_job_change", job.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Prune forecast runs",
            "opts": self.opts,
            "form": form,
        }
        status = 400 if form.is_bound else 200
        return TemplateResponse(
            request, "admin/forecasts/forecastrun/prune.html", context, status=status
        )
