"""Imports: the history, the refresh page (upload or URL, as a background job) and the jobs."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from forecasts import selectors, services
from forecasts.models import Dataset, Job

from .base import ReadOnlyAdmin
from .forms import DatasetRefreshForm, UploadSizeLimitHandler


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
        if not self.has_refresh_permission(request):
            raise PermissionDenied  # before a byte of the body is read
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
