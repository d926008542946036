"""URL routes: see backend/urls.py."""

urlpatterns: list = []
