"""Forecast runs: the history, re-run on the current data and prune, both as background jobs."""

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html, format_html_join

from forecasts import presenters, services
from forecasts.models import ForecastRun

from .base import RefuseNulLookupsMixin
from .forms import PruneRunsForm

# Re-runs happen in the worker; the cap keeps one job's list of runs reasonable.
MAX_RERUNS = 1000


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
