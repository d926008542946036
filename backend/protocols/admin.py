from django.contrib import admin, messages
from django.db.models import Max

from backend.protocols.models import Protocol


@admin.register(Protocol)
class ProtocolAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "version", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    actions = ["duplicate_as_new_version", "duplicate_as_new_protocol"]

    def get_readonly_fields(self, request, obj=None):
        # A version that plans were built from never changes; edit a new version instead.
        if obj is not None and obj.plans.exists():
            return ["slug", "version", "definition"]
        return []

    @admin.action(description="Duplicate as a new version")
    def duplicate_as_new_version(self, request, queryset):
        for protocol in queryset:
            latest = Protocol.objects.filter(slug=protocol.slug).aggregate(v=Max("version"))["v"]
            Protocol.objects.create(
                slug=protocol.slug,
                version=latest + 1,
                name=protocol.name,
                definition=protocol.definition,
                is_active=False,
            )
            self.message_user(
                request,
                f"Created {protocol.name} v{latest + 1} (inactive until you review it).",
                messages.SUCCESS,
            )

    @admin.action(description="Duplicate as a new protocol")
    def duplicate_as_new_protocol(self, request, queryset):
        for protocol in queryset:
            slug = _free_slug(f"{protocol.slug}-copy")
            name = f"Copy of {protocol.name}"
            Protocol.objects.create(
                slug=slug,
                version=1,
                name=name,
                definition={**protocol.definition, "slug": slug, "version": 1, "name": name},
                is_active=False,
            )
            self.message_user(
                request,
                f"Created {slug} v1 from {protocol} (inactive until you review it).",
                messages.SUCCESS,
            )


def _free_slug(base: str) -> str:
    taken = set(Protocol.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    if base not in taken:
        return base
    return next(f"{base}-{n}" for n in range(2, len(taken) + 3) if f"{base}-{n}" not in taken)
